/**
 * The delivery checks' tools (helm, kubeconform, actionlint, hadolint, the Kubernetes and CRD
 * schemas): from `npm test`'s set-up (scripts/lib.sh: ensure_delivery_tools exports their paths),
 * or, when a test runs alone, from the same function, which builds or fetches what is missing
 * into ~/.cache/parley once.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const NAMES = [
  'HELM',
  'KUBECONFORM',
  'ACTIONLINT',
  'HADOLINT',
  'KUBERNETES_SCHEMAS',
  'CRD_DIRS',
] as const;
export type DeliveryTools = Record<(typeof NAMES)[number], string>;

const REPO = fileURLToPath(new URL('..', import.meta.url));

export function deliveryTools(): DeliveryTools {
  const fromEnv = Object.fromEntries(NAMES.map((n) => [n, process.env[n] ?? '']));
  if (NAMES.every((n) => fromEnv[n])) return fromEnv as DeliveryTools;
  const script = `source scripts/lib.sh >&2 && ensure_delivery_tools >&2 && node -e 'console.log(JSON.stringify(Object.fromEntries(${JSON.stringify(NAMES)}.map((n) => [n, process.env[n]]))))'`;
  const out = execFileSync('bash', ['-c', script], {
    cwd: REPO,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return JSON.parse(out) as DeliveryTools;
}
