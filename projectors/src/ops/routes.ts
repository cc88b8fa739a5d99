/**
 * The ops page and its API, on the projectors' port (they own the dead letters and the rebuilds):
 *   GET  /ops                                      the page (its data needs an admin token)
 *   GET  /v1/ops/overview                          lag per group, dead letters, rebuilds, services
 *   GET  /v1/ops/dead-letters/{projection}         a projection's dead letters
 *   GET  /v1/ops/dead-letters/{projection}/{position}  one of them, decoded
 *   POST /v1/ops/dead-letters/{projection}/redrive apply them again to the live generation
 */
import { readFileSync } from 'node:fs';
import type {
  FastifyPluginAsyncTypebox,
  TypeBoxTypeProvider,
} from '@fastify/type-provider-typebox';
import { defineError } from '@parley/platform/errors';
import type { Kafka } from '@parley/platform/kafka';
import { pointerKey } from '@parley/platform/read-model-names';
import type { AvroSerde } from '@parley/schemas/serde/serde';
import type { topicNames } from '@parley/schemas/topics/catalogue';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import {
  describeDeadLetter,
  redriveDeadLetters,
  summarizeDeadLetters,
} from '../dead-letter-tool.ts';
import { PROJECTION_NAMES, projectionNamed } from '../read-models/index.ts';
import { currentGeneration } from '../runtime/generations.ts';
import { groupOf, redriveGroupOf, type Stores } from '../runtime/projection.ts';
import type { OpsWatch } from './ops-watch.ts';

const Forbidden = defineError('FORBIDDEN', 403, 'Not allowed');
const NotFound = defineError('NOT_FOUND', 404, 'No such resource');
const RedriveRunning = defineError('REDRIVE_RUNNING', 409, 'A redrive is running');

/** The page's files, read once: the HTML, its script and its styles (no inline code: CSP). */
const PAGE_DIR = new URL('../../ops-page/', import.meta.url);
const PAGE = {
  html: readFileSync(new URL('index.html', PAGE_DIR), 'utf8'),
  js: readFileSync(new URL('ops.js', PAGE_DIR), 'utf8'),
  css: readFileSync(new URL('ops.css', PAGE_DIR), 'utf8'),
};

const Projection = Type.Union(PROJECTION_NAMES.map((n) => Type.Literal(n)));
const Position = Type.String({ pattern: '^\\d{1,5}:\\d{1,19}$', description: 'partition:offset' });

export interface OpsRoutesOptions {
  watch: OpsWatch;
  kafka: Kafka;
  serde: AvroSerde;
  stores: Stores;
  names: typeof topicNames;
  namespace: string;
}

async function requireAdmin(request: FastifyRequest) {
  await request.server.authenticate(request);
  if (!request.user.roles.includes('admin')) throw new Forbidden('the ops API is for admins');
}

export const opsRoutes: FastifyPluginAsyncTypebox<OpsRoutesOptions> = async (app, options) => {
  const deadLetterPlace = (name: string) => {
    const projection = projectionNamed(name);
    if (!projection) throw new NotFound(`no projection ${name}`);
    return {
      projection,
      topic: options.names.deadLetters(groupOf(projection)),
      redriveGroup: redriveGroupOf(projection),
    };
  };

  /** One redrive per projection at a time in this process (they share the redrive group). */
  const redriving = new Set<string>();

  app.get('/ops', async (_request, reply) =>
    reply.type('text/html; charset=utf-8').header('cache-control', 'no-cache').send(PAGE.html),
  );
  app.get('/ops/ops.js', async (_request, reply) =>
    reply.type('text/javascript; charset=utf-8').header('cache-control', 'no-cache').send(PAGE.js),
  );
  app.get('/ops/ops.css', async (_request, reply) =>
    reply.type('text/css; charset=utf-8').header('cache-control', 'no-cache').send(PAGE.css),
  );

  await app.register(async (scoped) => {
    const api = scoped.withTypeProvider<TypeBoxTypeProvider>();
    api.addHook('onRequest', requireAdmin);
    api.get('/v1/ops/overview', async (_request, reply) => {
      reply.header('cache-control', 'no-store');
      return options.watch.latest();
    });
    api.get(
      '/v1/ops/dead-letters/:projection',
      { schema: { params: Type.Object({ projection: Projection }) } },
      async (request) => {
        const place = deadLetterPlace(request.params.projection);
        const { summaries } = await summarizeDeadLetters({ kafka: options.kafka, ...place });
        // The latest 200: enough to see what fails; the CLI lists them all.
        return { projection: place.projection.name, deadLetters: summaries.slice(-200) };
      },
    );
    api.get(
      '/v1/ops/dead-letters/:projection/:position',
      { schema: { params: Type.Object({ projection: Projection, position: Position }) } },
      async (request) => {
        const place = deadLetterPlace(request.params.projection);
        const { summaries, entries } = await summarizeDeadLetters({
          kafka: options.kafka,
          ...place,
        });
        const index = summaries.findIndex((s) => s.position === request.params.position);
        const entry = entries[index];
        if (index < 0 || !entry) throw new NotFound(`no dead letter at ${request.params.position}`);
        return { ...summaries[index], ...(await describeDeadLetter(options.serde, entry)) };
      },
    );
    api.post(
      '/v1/ops/dead-letters/:projection/redrive',
      { schema: { params: Type.Object({ projection: Projection }) } },
      async (request) => {
        const place = deadLetterPlace(request.params.projection);
        const name = place.projection.name;
        if (redriving.has(name)) throw new RedriveRunning(`a redrive of ${name} is running`);
        redriving.add(name);
        const key = pointerKey(options.namespace, place.projection.name);
        const result = await currentGeneration(options.stores.pool, key)
          .then((number) =>
            redriveDeadLetters({
              kafka: options.kafka,
              serde: options.serde,
              stores: options.stores,
              projection: place.projection,
              generation: { projection: key, number: number ?? 1, namespace: options.namespace },
              topic: place.topic,
              groupId: place.redriveGroup,
            }),
          )
          .finally(() => redriving.delete(name));
        request.log.info(
          { projection: place.projection.name, ...result, by: request.user.userId },
          'dead letters redriven from the ops page',
        );
        // The waiting count on the page follows at once, not at the next poll.
        void options.watch.refresh().catch(() => {});
        return { projection: place.projection.name, ...result };
      },
    );
  });
};
