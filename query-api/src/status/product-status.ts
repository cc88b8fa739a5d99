/**
 * What the apps tell users about the product's health (`GET /v1/status`): each part a user
 * notices, up, degraded or down, from the readiness of the services behind it. Pure: the
 * readiness of each service comes in, the public answer goes out, with no dependency names,
 * errors or addresses in it.
 */
import { type Static, Type } from 'typebox';

/** A service's readiness as its `/health/ready` told it, or `unreachable` when it did not answer. */
export type ServiceReadiness = 'ready' | 'degraded' | 'not-ready' | 'unreachable';

/** The services whose readiness the status is made of (the query API is one). */
export const STATUS_SERVICES = [
  'command-api',
  'command-processor',
  'query-api',
  'projectors',
  'assistant',
] as const;
export type StatusService = (typeof STATUS_SERVICES)[number];

/** The parts of the product as users see them, and the services each needs. */
const PARTS = {
  /** Sending messages and changes. */
  sending: ['command-api', 'command-processor'],
  /** Reading conversations, profile and usage. */
  reading: ['query-api'],
  /** What was sent showing up in what is read. */
  updates: ['projectors'],
  /** The assistant's replies. */
  assistant: ['assistant'],
} as const satisfies Record<string, readonly StatusService[]>;

const PartState = Type.Union([Type.Literal('up'), Type.Literal('degraded'), Type.Literal('down')]);
export const ProductStatus = Type.Object(
  {
    status: PartState,
    parts: Type.Object({
      sending: PartState,
      reading: PartState,
      updates: PartState,
      assistant: PartState,
    }),
    checkedAt: Type.String({ format: 'date-time' }),
  },
  { additionalProperties: false },
);
export type ProductStatus = Static<typeof ProductStatus>;
type PartState = Static<typeof PartState>;

const stateOf = (readiness: ServiceReadiness | undefined): PartState => {
  if (readiness === 'ready') return 'up';
  if (readiness === 'degraded') return 'degraded';
  return 'down';
};

const RANK: Record<PartState, number> = { up: 0, degraded: 1, down: 2 };
const worst = (states: PartState[]): PartState =>
  states.reduce<PartState>((a, b) => (RANK[b] > RANK[a] ? b : a), 'up');

/**
 * Each part is the worst of its services (a service not heard from is down). The product is up
 * when every part is, down when neither sending nor reading works, degraded otherwise.
 */
export function productStatus(
  readiness: Partial<Record<StatusService, ServiceReadiness>>,
  checkedAt: Date,
): ProductStatus {
  const parts = Object.fromEntries(
    Object.entries(PARTS).map(([part, services]) => [
      part,
      worst(services.map((s) => stateOf(readiness[s]))),
    ]),
  ) as ProductStatus['parts'];
  const states = Object.values(parts);
  const status: PartState = states.every((s) => s === 'up')
    ? 'up'
    : parts.sending === 'down' && parts.reading === 'down'
      ? 'down'
      : 'degraded';
  return { status, parts, checkedAt: checkedAt.toISOString() };
}
