# syntax=docker/dockerfile:1
# One image per service, from one build: `docker build --target <service> .` with a target for
# each of command-api, command-processor, query-api, projectors and assistant. Every target runs
# the compiled JavaScript (dist/) with production dependencies only, as the unprivileged `node`
# user, on a pinned slim Node LTS base. Checked by hadolint in `npm test` (tests/delivery.unit.test.ts).
# The lock file and every workspace's package.json: npm ci needs them all to check the lock.
# The base is written in each FROM (not an ARG) so Dependabot can propose its updates.
FROM node:22.21.1-bookworm-slim AS manifests
WORKDIR /app
COPY package.json package-lock.json ./
COPY platform/package.json platform/
COPY schemas/package.json schemas/
COPY command-api/package.json command-api/
COPY projectors/package.json projectors/
COPY query-api/package.json query-api/
COPY assistant/package.json assistant/
COPY replay/package.json replay/
COPY bench/package.json bench/

# Compile every service (tsc -b, the same build `npm run build` and `npm test` run).
FROM manifests AS build
RUN --mount=type=cache,target=/root/.npm npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.base.json tsconfig.json ./
COPY platform/ platform/
COPY schemas/ schemas/
COPY command-api/ command-api/
COPY projectors/ projectors/
COPY query-api/ query-api/
COPY assistant/ assistant/
COPY replay/ replay/
# For docker compose's development keys only; never copied into a runtime image.
COPY scripts/dev-keys.ts scripts/
RUN npm run build

# Production dependencies of the deployed workspaces only (no dev tools, no benchmark client).
FROM manifests AS production-dependencies
# npm's cache is a build cache mount, so it stays out of the image.
RUN --mount=type=cache,target=/root/.npm \
    npm ci --no-audit --no-fund --ignore-scripts --omit=dev \
      --workspace=@parley/platform --workspace=@parley/schemas --workspace=@parley/command-api \
      --workspace=@parley/projectors --workspace=@parley/query-api --workspace=@parley/assistant

FROM node:22.21.1-bookworm-slim AS runtime
# PARLEY_ENV=prod: addresses and secrets have no defaults, so a missing one stops the process at
# start (exit 78) instead of running on a laptop's settings. The chart and compose set it.
ENV NODE_ENV=production \
    PARLEY_ENV=prod \
    HTTP_HOST=0.0.0.0
WORKDIR /app
# The manifests with the production dependencies, also those npm nests under a workspace
# (platform/node_modules holds the ajv it needs beside an older hoisted one).
COPY --from=production-dependencies /app/ ./
COPY --from=build /app/platform/dist platform/dist/
COPY --from=build /app/schemas/dist schemas/dist/
COPY --from=build /app/schemas/avro schemas/avro/
# 1000 is the base image's `node` user; numeric, so runAsNonRoot can verify it.
USER 1000:1000
# Docker's own liveness check (Kubernetes uses the chart's probes): /health/live on HTTP_PORT.
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.HTTP_PORT}/health/live`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

FROM runtime AS command-api
COPY --from=build /app/command-api/dist command-api/dist/
ENV HTTP_PORT=3000
EXPOSE 3000
CMD ["node", "command-api/dist/server.js"]

FROM runtime AS command-processor
COPY --from=build /app/command-api/dist command-api/dist/
ENV HTTP_PORT=3003
EXPOSE 3003
CMD ["node", "command-api/dist/processor/main.js"]

FROM runtime AS query-api
COPY --from=build /app/query-api/dist query-api/dist/
ENV HTTP_PORT=3001
EXPOSE 3001
CMD ["node", "query-api/dist/server.js"]

FROM runtime AS projectors
COPY --from=build /app/projectors/dist projectors/dist/
COPY --from=build /app/projectors/ops-page projectors/ops-page/
ENV HTTP_PORT=3002
EXPOSE 3002
CMD ["node", "--max-old-space-size=192", "projectors/dist/server.js"]

FROM runtime AS assistant
COPY --from=build /app/assistant/dist assistant/dist/
ENV HTTP_PORT=3004
EXPOSE 3004
CMD ["node", "--max-old-space-size=160", "assistant/dist/server.js"]
