/**
 * Delivery, checked without a cluster or a container engine: the Helm chart linted and rendered
 * for dev, stage and prod, every manifest validated strictly against the Kubernetes API schemas
 * and the CRDs of KEDA, the Prometheus Operator and External Secrets (offline); each process's
 * configuration loaded from exactly what the chart sets; the ingress rules evaluated against the
 * routes the two APIs serve; hadolint on the Dockerfile and actionlint on the workflows.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type Environment, loadConfig, type Spec } from '@parley/platform/config';
import { bootstrapSettings } from '@parley/schemas/bootstrap/settings';
import { topicCatalogue } from '@parley/schemas/topics/catalogue';
import { parse, parseAllDocuments } from 'yaml';
import { settings as assistantSettings } from '../assistant/src/config.ts';
import { settings as commandApiSettings } from '../command-api/src/config.ts';
import { processorSettings } from '../command-api/src/processor/config.ts';
import { settings as projectorSettings } from '../projectors/src/config.ts';
import { settings as queryApiSettings } from '../query-api/src/config.ts';
import { type BuiltApi, buildApi } from './api-routes.ts';
import { deliveryTools } from './delivery-tools.ts';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const CHART = join(REPO, 'charts/parley');
const ENVIRONMENTS = ['dev', 'stage', 'prod'] as const;
// helm built with `go install` assumes an old cluster unless told (Chart.yaml asks for 1.29 or later).
const KUBE = ['--kube-version', '1.33.0'];
const IMAGE = [
  ...KUBE,
  '--set',
  'image.registry=registry.example/parley',
  '--set',
  'image.tag=0123abc',
];
/** The Kubernetes versions the chart supports (Chart.yaml kubeVersion) up to the newest schemas. */
const KUBERNETES_VERSIONS = ['1.29.0', '1.37.0'];

/** What each workload runs, by its app.kubernetes.io/name label. */
const SETTINGS: Record<string, Spec> = {
  'command-api': commandApiSettings,
  'command-processor': processorSettings,
  projectors: projectorSettings,
  'query-api': queryApiSettings,
  assistant: assistantSettings,
  bootstrap: bootstrapSettings,
};

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  // biome-ignore lint/suspicious/noExplicitAny: manifests are checked by kubeconform, read loosely here
  spec: any;
}
interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: unknown;
}

const tools = deliveryTools();

function run(command: string, args: string[]): string {
  try {
    return execFileSync(command, args, { cwd: REPO, encoding: 'utf8', stdio: 'pipe' });
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    assert.fail(`${command} ${args.join(' ')}\n${e.stdout ?? ''}${e.stderr ?? e.message}`);
  }
}

const valuesFile = (environment: string) => join(CHART, `values-${environment}.yaml`);
/** The values Helm renders with: the environment's file merged over values.yaml (maps merge, lists replace). */
const values = (environment: string) =>
  merged(
    parse(readFileSync(join(CHART, 'values.yaml'), 'utf8')),
    parse(readFileSync(valuesFile(environment), 'utf8')),
  );

// biome-ignore lint/suspicious/noExplicitAny: values are untyped YAML
function merged(base: any, over: any): any {
  const isMap = (v: unknown) => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isMap(base) || !isMap(over)) return over === undefined ? base : over;
  const out = { ...base };
  for (const [key, value] of Object.entries(over)) out[key] = merged(base[key], value);
  return out;
}

function render(environment: string, extra: string[] = []): Manifest[] {
  const out = run(tools.HELM, [
    'template',
    'parley',
    CHART,
    '-f',
    valuesFile(environment),
    ...IMAGE,
    ...extra,
  ]);
  return parseAllDocuments(out)
    .map((d) => d.toJS() as Manifest | null)
    .filter((m): m is Manifest => m !== null);
}

const rendered = new Map<string, Manifest[]>();
const of = (environment: string, kind: string) =>
  (rendered.get(environment) ?? []).filter((m) => m.kind === kind);
const nameOf = (m: Manifest) => m.metadata.labels?.['app.kubernetes.io/name'] ?? '';
// biome-ignore lint/suspicious/noExplicitAny: a pod template of a Deployment or a Job
const podOf = (m: Manifest): any => m.spec.template.spec;
const workloads = (environment: string) => [
  ...of(environment, 'Deployment'),
  ...of(environment, 'Job'),
];

before(() => {
  for (const environment of ENVIRONMENTS) rendered.set(environment, render(environment));
});

describe('Helm chart (charts/parley)', () => {
  it('passes helm lint --strict with each environment’s values', () => {
    for (const environment of ENVIRONMENTS) {
      run(tools.HELM, ['lint', '--strict', CHART, '-f', valuesFile(environment), ...IMAGE]);
    }
  });

  it('refuses to render without the image the pipeline built', () => {
    assert.throws(
      () =>
        execFileSync(tools.HELM, ['template', 'parley', CHART, '-f', valuesFile('prod'), ...KUBE], {
          stdio: 'pipe',
        }),
      (error: { stderr: Buffer }) => /image\.registry is required/.test(String(error.stderr)),
    );
  });

  it('renders manifests valid against the Kubernetes API and CRD schemas, strictly and offline', () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-manifests-'));
    try {
      const crds = writeCrdSchemas(join(dir, 'crds'));
      assert.ok(crds >= 3, 'the schemas of ScaledObject, ServiceMonitor and ExternalSecret');
      for (const environment of ENVIRONMENTS) {
        const file = join(dir, `${environment}.yaml`);
        writeFileSync(
          file,
          run(tools.HELM, ['template', 'parley', CHART, '-f', valuesFile(environment), ...IMAGE]),
        );
        for (const version of KUBERNETES_VERSIONS) {
          const schemas = join(dir, `v${version}`);
          writeKubernetesSchemas(schemas, version, rendered.get(environment) ?? []);
          const out = run(tools.KUBECONFORM, [
            '-strict',
            '-summary',
            '-schema-location',
            `${schemas}/{{.ResourceKind}}{{.KindSuffix}}.json`,
            '-schema-location',
            `${dir}/crds/{{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json`,
            file,
          ]);
          const summary = /Valid: (\d+), Invalid: (\d+), Errors: (\d+), Skipped: (\d+)/.exec(out);
          assert.ok(summary, out);
          assert.deepEqual(
            summary.slice(2),
            ['0', '0', '0'],
            `${environment} on ${version}: ${out}`,
          );
          assert.equal(Number(summary[1]), rendered.get(environment)?.length, 'every manifest');
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('gives every process exactly the settings it reads, secrets only as mounted files', () => {
    const secretNames = new Set(
      Object.values(SETTINGS).flatMap((spec) =>
        Object.entries(spec)
          .filter(([, field]) => field.secret)
          .map(([name]) => name),
      ),
    );
    for (const environment of ENVIRONMENTS) {
      for (const workload of workloads(environment)) {
        const service = nameOf(workload);
        const spec = SETTINGS[service];
        assert.ok(spec, `${workload.kind} ${workload.metadata.name} runs a known process`);
        const { source, mounted } = environmentOf(workload, spec, `${environment} ${service}`);
        const readFile = (path: string) => {
          if (!mounted.has(path)) throw Object.assign(new Error('absent'), { code: 'ENOENT' });
          return 'a-secret';
        };
        // As rendered, and again as prod: no setting of any environment may lean on a default
        // meant for a laptop (dev's addresses are loopback ones).
        for (const PARLEY_ENV of [source.PARLEY_ENV ?? '', 'prod']) {
          assert.doesNotThrow(
            () => loadConfig(spec, { source: { ...source, PARLEY_ENV }, readFile }),
            `${environment} ${service} starts with the chart's settings (as ${PARLEY_ENV})`,
          );
        }
      }
      // Nothing secret in a values file: secret names appear only as keys of the Secret.
      const text = readFileSync(valuesFile(environment), 'utf8');
      for (const name of secretNames) {
        assert.ok(!new RegExp(`\\b${name}\\s*:`).test(text), `values-${environment}: ${name}`);
      }
    }
  });

  it('runs every pod unprivileged, read-only, with seccomp, and probes the health routes', () => {
    for (const environment of ENVIRONMENTS) {
      for (const workload of workloads(environment)) {
        const where = `${environment} ${workload.metadata.name}`;
        const pod = podOf(workload);
        assert.equal(pod.securityContext.runAsNonRoot, true, where);
        assert.equal(pod.securityContext.seccompProfile.type, 'RuntimeDefault', where);
        assert.equal(pod.automountServiceAccountToken, false, where);
        for (const container of pod.containers) {
          assert.equal(container.securityContext.readOnlyRootFilesystem, true, where);
          assert.equal(container.securityContext.allowPrivilegeEscalation, false, where);
          assert.deepEqual(container.securityContext.capabilities.drop, ['ALL'], where);
          assert.match(container.image, /^registry\.example\/parley\/parley-[a-z-]+:0123abc$/);
          assert.ok(container.resources.requests && container.resources.limits?.memory, where);
        }
        if (workload.kind !== 'Deployment') continue;
        const [container] = pod.containers;
        assert.equal(container.livenessProbe.httpGet.path, '/health/live', where);
        assert.equal(container.readinessProbe.httpGet.path, '/health/ready', where);
        assert.equal(container.startupProbe.httpGet.path, '/health/live', where);
        // The port each service listens on by default, the one its image exposes.
        const port = container.env.find((e: EnvVar) => e.name === 'HTTP_PORT')?.value;
        const service = nameOf(workload);
        assert.equal(Number(port), SETTINGS[service]?.HTTP_PORT?.defaults.prod, where);
        assert.equal(container.ports[0].containerPort, Number(port), where);
        assert.equal(workload.spec.strategy.rollingUpdate.maxUnavailable, 0, where);
      }
    }
  });

  it('scales the APIs on CPU and the consumers on lag, never past the partitions', () => {
    for (const environment of ENVIRONMENTS) {
      const partitions = Number(values(environment).kafka.partitions);
      const hpas = of(environment, 'HorizontalPodAutoscaler').map(nameOf).sort();
      assert.deepEqual(hpas, ['command-api', 'query-api'], environment);
      const scaled = of(environment, 'ScaledObject');
      assert.deepEqual(scaled.map(nameOf).sort(), ['assistant', 'command-processor', 'projectors']);
      for (const object of scaled) {
        const where = `${environment} ${object.metadata.name}`;
        assert.ok(object.spec.maxReplicaCount <= partitions, `${where}: at most ${partitions}`);
        assert.ok(object.spec.minReplicaCount <= object.spec.maxReplicaCount, where);
        const [trigger] = object.spec.triggers;
        if (trigger.type === 'kafka') {
          const group = trigger.metadata.consumerGroup;
          const setting =
            nameOf(object) === 'assistant' ? 'ASSISTANT_GROUP_ID' : 'PROCESSOR_GROUP_ID';
          assert.equal(group, SETTINGS[nameOf(object)]?.[setting]?.defaults.prod, where);
        } else {
          assert.equal(trigger.type, 'prometheus', where);
          assert.match(trigger.metadata.query, /kafka_consumer_group_lag_events/, where);
        }
      }
      for (const deployment of of(environment, 'Deployment')) {
        // An autoscaled Deployment leaves its replica count to the autoscaler.
        assert.equal(deployment.spec.replicas, undefined, `${environment} ${nameOf(deployment)}`);
      }
      assert.equal(of(environment, 'PodDisruptionBudget').length, 5, environment);
    }
  });

  it('bootstraps topics before an upgrade, with replication 3 and min.insync 2 outside dev', () => {
    for (const environment of ENVIRONMENTS) {
      const [job] = of(environment, 'Job');
      assert.ok(job, environment);
      assert.match(job.metadata.annotations?.['helm.sh/hook'] ?? '', /pre-install,pre-upgrade/);
      const env: EnvVar[] = podOf(job).containers[0].env;
      const get = (name: string) => env.find((e) => e.name === name)?.value ?? '';
      const topics = topicCatalogue({
        environment: get('PARLEY_ENV') as Environment,
        partitions: Number(get('TOPIC_PARTITIONS')),
      });
      for (const topic of topics) {
        const replicated = environment !== 'dev';
        assert.equal(topic.replicationFactor, replicated ? 3 : 1, `${environment} ${topic.name}`);
        assert.equal(topic.config['min.insync.replicas'], replicated ? '2' : '1');
        assert.equal(topic.partitions, Number(values(environment).kafka.partitions));
      }
    }
  });

  it('denies by default and lets each service reach only the stores its settings name', () => {
    const storeOf: Record<string, string> = {
      KAFKA_BROKERS: 'kafka',
      SCHEMA_REGISTRY_URL: 'schemaRegistry',
      POSTGRES_URL: 'postgres',
      MONGO_URL: 'mongodb',
      REDIS_URL: 'redis',
      ASSISTANT_BASE_URL: 'model',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'otlp',
    };
    for (const environment of ENVIRONMENTS) {
      const policies = of(environment, 'NetworkPolicy');
      const deny = policies.find((p) => p.metadata.name.endsWith('default-deny'));
      assert.deepEqual(deny?.spec.policyTypes, ['Ingress', 'Egress'], environment);
      assert.equal(deny?.spec.ingress, undefined);
      assert.equal(deny?.spec.egress, undefined);
      const stores = values(environment).networkPolicy.stores;
      const hasOtlp = Boolean(values(environment).otlpEndpoint);
      for (const workload of workloads(environment)) {
        const service = nameOf(workload);
        const policy = policies.find((p) => nameOf(p) === service);
        assert.ok(policy, `${environment} ${service} has its policy`);
        const allowed = new Set<string>(
          // biome-ignore lint/suspicious/noExplicitAny: NetworkPolicy egress rules
          policy.spec.egress.flatMap((rule: any) =>
            rule.to
              .filter((to: { ipBlock?: unknown }) => to.ipBlock)
              .flatMap((to: { ipBlock: { cidr: string } }) =>
                rule.ports.map((p: { port: number }) => `${to.ipBlock.cidr}:${p.port}`),
              ),
          ),
        );
        const env: EnvVar[] = podOf(workload).containers[0].env;
        const used = new Set(
          Object.keys(SETTINGS[service] ?? {})
            .filter((name) => storeOf[name])
            .filter((name) => name !== 'OTEL_EXPORTER_OTLP_ENDPOINT' || hasOtlp)
            .filter((name) => name !== 'ASSISTANT_BASE_URL' || environment !== 'dev')
            .map((name) => storeOf[name] as string),
        );
        assert.ok(env.length > 0);
        const expected = new Set(
          [...used].flatMap((store) =>
            stores[store].cidrs.flatMap((cidr: string) =>
              stores[store].ports.map((port: number) => `${cidr}:${port}`),
            ),
          ),
        );
        // dev's assistant runs the offline model yet may reach a provider if switched to one.
        if (environment === 'dev' && service === 'assistant') {
          for (const cidr of stores.model.cidrs) expected.add(`${cidr}:${stores.model.ports[0]}`);
        }
        assert.deepEqual([...allowed].sort(), [...expected].sort(), `${environment} ${service}`);
      }
    }
  });

  describe('the ingress', () => {
    const apis: BuiltApi[] = [];
    before(async () => {
      apis.push(await buildApi('command-api', 3000), await buildApi('query-api', 3001));
    });
    after(async () => {
      for (const api of apis) await api.app.close();
    });

    it('routes every API route to the service that serves it, by method and path, over TLS', () => {
      for (const environment of ENVIRONMENTS) {
        const [ingress] = of(environment, 'Ingress');
        assert.ok(ingress, environment);
        const annotations = ingress.metadata.annotations ?? {};
        assert.ok(annotations['cert-manager.io/cluster-issuer'], 'a cert-manager issuer');
        const [tls] = ingress.spec.tls;
        assert.deepEqual(tls.hosts, [ingress.spec.rules[0].host]);
        const route = albRouter(ingress);
        let checked = 0;
        for (const api of apis) {
          for (const { method, path } of api.routes) {
            if (!path.startsWith('/v1/') || method === 'OPTIONS') continue;
            const concrete = path.replace(/:\w+/g, 'x1');
            assert.equal(
              route(method, concrete),
              `parley-${api.service}`,
              `${environment}: ${method} ${path}`,
            );
            checked++;
          }
        }
        assert.ok(checked > 25, `every route (${checked})`);
        assert.equal(route('POST', '/v1/users/search'), 'parley-query-api');
        assert.equal(route('GET', '/v1/commands/x1'), 'parley-command-api');
      }
    });
  });

  it('has Prometheus scrape every service on its http port', () => {
    for (const environment of ENVIRONMENTS) {
      const [monitor] = of(environment, 'ServiceMonitor');
      assert.equal(monitor?.spec.endpoints[0].path, '/metrics');
      const selector: Record<string, string> = monitor?.spec.selector.matchLabels ?? {};
      for (const service of of(environment, 'Service')) {
        const labels = service.metadata.labels ?? {};
        assert.ok(
          Object.entries(selector).every(([k, v]) => labels[k] === v),
          `${environment} ${service.metadata.name} selected`,
        );
        assert.equal(service.spec.ports[0].name, monitor?.spec.endpoints[0].port);
      }
    }
  });
});

describe('Dockerfile and workflows', () => {
  it('passes hadolint, with a non-root target per service on the port the chart uses', () => {
    run(tools.HADOLINT, ['Dockerfile']);
    const dockerfile = readFileSync(join(REPO, 'Dockerfile'), 'utf8');
    assert.match(dockerfile, /^USER (?!0\b|root\b)\S+/m, 'not root');
    assert.match(dockerfile, /^HEALTHCHECK .*\n.*\/health\/live/m);
    for (const [service, svc] of Object.entries(values('prod').services) as [
      string,
      { port: number },
    ][]) {
      const stage = new RegExp(
        `^FROM runtime AS ${service}\\n(?:.*\\n)*?ENV HTTP_PORT=(\\d+)`,
        'm',
      );
      assert.equal(Number(stage.exec(dockerfile)?.[1]), svc.port, `target ${service}`);
    }
    const ignored = readFileSync(join(REPO, '.dockerignore'), 'utf8').split('\n');
    for (const kept of ['.data', '.env', '.git', 'tests', '**/test', '**/node_modules']) {
      assert.ok(ignored.includes(kept), `.dockerignore keeps ${kept} out`);
    }
  });

  it('has docker compose run every service from its image, on its port, configured to start', () => {
    const compose = parse(readFileSync(join(REPO, 'infra/docker-compose.yml'), 'utf8'), {
      merge: true,
    });
    const names = new Set(Object.keys(compose.services));
    for (const [service, svc] of Object.entries(values('prod').services) as [
      string,
      { port: number },
    ][]) {
      const entry = compose.services[service];
      assert.ok(entry, `compose runs ${service}`);
      assert.equal(entry.build.target, service);
      assert.deepEqual(entry.ports, [`127.0.0.1:${svc.port}:${svc.port}`]);
      const source: Record<string, string> = Object.fromEntries(
        Object.entries(entry.environment).map(([k, v]) => [k, String(v)]),
      );
      const spec = SETTINGS[service] as Spec;
      for (const name of Object.keys(source)) {
        const base = name.replace(/_FILE$/, '');
        assert.ok(name === 'PARLEY_ENV' || base in spec, `${service} reads ${name}`);
      }
      // Every address names a service of the compose network, never the host's loopback.
      for (const value of Object.values(source)) {
        for (const m of value.matchAll(/\/\/(?:[^@/]*@)?([a-z-]+):\d+/g)) {
          assert.ok(names.has(m[1] ?? ''), `${service}: ${m[1]} is a compose service`);
        }
      }
      const keys = (entry.volumes ?? []).some((v: string) => v.startsWith('dev-keys:/keys'));
      const readFile = (path: string) => {
        if (!keys || !path.startsWith('/keys/')) throw new Error(`${path} is not mounted`);
        return 'a-key';
      };
      assert.doesNotThrow(() => loadConfig(spec, { source, readFile }), service);
    }
  });

  it('passes actionlint on every workflow', () => {
    const workflows = readdirSync(join(REPO, '.github/workflows')).map(
      (f) => `.github/workflows/${f}`,
    );
    assert.ok(workflows.length >= 2);
    run(tools.ACTIONLINT, workflows);
  });
});

/** The variables a workload's container gets, checked one by one, and the secret files it mounts. */
function environmentOf(workload: Manifest, spec: Spec, where: string) {
  const pod = podOf(workload);
  const mounted = new Set<string>(
    pod.volumes
      .find((v: { name: string }) => v.name === 'secrets')
      ?.secret.items.map((i: { path: string }) => `/var/run/secrets/parley/${i.path}`) ?? [],
  );
  const env: EnvVar[] = pod.containers[0].env;
  const source: Record<string, string> = {};
  for (const { name, value, valueFrom } of env) {
    assert.equal(valueFrom, undefined, `${where} ${name}: a value, never a secret reference`);
    const base = name.replace(/_FILE$/, '');
    const known =
      name === 'PARLEY_ENV' ||
      (name in spec && !spec[name]?.secret) ||
      (name !== base && spec[base]?.secret === true);
    assert.ok(known, `${where} ${name}: a variable the process reads`);
    if (name !== base) assert.ok(mounted.has(value ?? ''), `${where} ${name}: a mounted file`);
    source[name] = value ?? '';
  }
  return { source, mounted };
}

/** ALB rules as the AWS Load Balancer Controller makes them from the Ingress: in order, first match. */
function albRouter(ingress: Manifest): (method: string, path: string) => string | undefined {
  const annotations = ingress.metadata.annotations ?? {};
  const paths: {
    path: string;
    pathType: string;
    backend: { service: { name: string; port: { name?: string } } };
  }[] = ingress.spec.rules[0].http.paths;
  return (method, path) => {
    for (const rule of paths) {
      const matches =
        rule.pathType === 'Exact'
          ? path === rule.path
          : path === rule.path || path.startsWith(`${rule.path}/`);
      if (!matches) continue;
      const { name, port } = rule.backend.service;
      if (port.name !== 'use-annotation') return name;
      const conditions = JSON.parse(
        annotations[`alb.ingress.kubernetes.io/conditions.${name}`] ?? '[]',
      );
      const methods: string[] = conditions.flatMap(
        (c: { httpRequestMethodConfig?: { Values: string[] } }) =>
          c.httpRequestMethodConfig?.Values ?? [],
      );
      if (methods.length > 0 && !methods.includes(method)) continue;
      const action = JSON.parse(annotations[`alb.ingress.kubernetes.io/actions.${name}`] ?? '{}');
      return action.forwardConfig?.targetGroups?.[0]?.serviceName;
    }
    return undefined;
  };
}

/**
 * kubernetes-validate's strict schemas point into one shared `_definitions.json` by absolute
 * references its own resolver understands; kubeconform needs each kind's schema whole, so the
 * definitions go into each (as `$defs`) with the references made local.
 */
function writeKubernetesSchemas(dir: string, version: string, manifests: Manifest[]): void {
  const source = join(tools.KUBERNETES_SCHEMAS, `v${version}-local-strict`);
  const local = (text: string) => text.replaceAll('"/api/_definitions.json#/', '"#/');
  const { $defs } = JSON.parse(local(readFileSync(join(source, '_definitions.json'), 'utf8')));
  mkdirSync(dir, { recursive: true });
  for (const { apiVersion, kind } of manifests) {
    const [group, groupVersion] = apiVersion.includes('/')
      ? apiVersion.split('/')
      : ['', apiVersion];
    if (group?.includes('.') && !group.endsWith('.k8s.io')) continue; // a custom resource
    const suffix = group ? `-${group.split('.')[0]}-${groupVersion}` : `-${groupVersion}`;
    const file = `${kind.toLowerCase()}${suffix}.json`;
    const schema = JSON.parse(local(readFileSync(join(source, file), 'utf8')));
    delete schema.$id;
    writeFileSync(join(dir, file), JSON.stringify({ ...schema, $defs }));
  }
}

/** JSON schemas for kubeconform from the CRDs (their openAPIV3Schema), closed like -strict. */
function writeCrdSchemas(dir: string): number {
  const wanted =
    /^(keda\.sh_scaledobjects|monitoring\.coreos\.com_servicemonitors|external-secrets\.io_externalsecrets)\.yaml$/;
  let written = 0;
  for (const source of tools.CRD_DIRS.split(':')) {
    for (const file of readdirSync(source).filter((f) => wanted.test(f))) {
      const crd = parse(readFileSync(join(source, file), 'utf8'));
      const { group, names } = crd.spec;
      mkdirSync(join(dir, group), { recursive: true });
      for (const version of crd.spec.versions) {
        const schema = closed(version.schema.openAPIV3Schema);
        const name = `${names.kind.toLowerCase()}_${version.name}.json`;
        writeFileSync(join(dir, group, name), JSON.stringify(schema));
        written++;
      }
    }
  }
  return written;
}

// biome-ignore lint/suspicious/noExplicitAny: a JSON schema walked generically
function closed(schema: any): any {
  if (Array.isArray(schema)) return schema.map(closed);
  if (schema === null || typeof schema !== 'object') return schema;
  const out = Object.fromEntries(Object.entries(schema).map(([k, v]) => [k, closed(v)]));
  if (
    out.properties &&
    out.additionalProperties === undefined &&
    !out['x-kubernetes-preserve-unknown-fields']
  ) {
    out.additionalProperties = false;
  }
  return out;
}
