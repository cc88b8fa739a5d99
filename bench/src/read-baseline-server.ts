/**
 * The queries benchmark's baseline, run as its own process: bare Fastify routes reading the same
 * Redis views as the query API with ioredis and answering the same JSON, with nothing else in
 * the way (no token check, rate limit, schemas, generation lookup, ETag or security headers).
 *   GET /conversations/:id   one HGETALL of the conversation view (head and latest messages)
 *   GET /lists/:userId       the user's list (newest 20), then one HMGET of each one's head
 */
import { env, loadConfig } from '@parley/platform/config';
import { createRedis, redisSettings } from '@parley/platform/redis';
import { serviceSettings } from '@parley/platform/service';
import { conversationHeadOf, conversationLayout } from '@parley/platform/view-hashes';
import Fastify from 'fastify';
import { conversationFromView, listItemFromView } from '../../query-api/src/chat/pages.ts';

const config = loadConfig({
  ...serviceSettings(3009),
  ...redisSettings,
  /** The views' key prefix, e.g. `parley:<namespace>views_g1:`. */
  VIEWS_PREFIX: env.string(),
});
const redis = createRedis({
  url: config.REDIS_URL,
  password: config.REDIS_PASSWORD,
  connectionName: 'bench.read-baseline',
});
const prefix = config.VIEWS_PREFIX;

async function heads(ids: readonly string[]) {
  const pipeline = redis.pipeline();
  for (const id of ids) pipeline.hmget(`${prefix}conversation:${id}`, 'version', 'data');
  return ((await pipeline.exec()) ?? []).flatMap(([error, value]) => {
    const [version, data] = (error ? [] : value) as [string | null, string | null];
    return version && data
      ? [{ version: Number(version), data: conversationHeadOf(data).head }]
      : [];
  });
}

const app = Fastify();
app.get('/health/ready', async () => ({ status: 'ready' }));
app.get<{ Params: { id: string } }>('/conversations/:id', async (request, reply) => {
  const view = conversationLayout.fromHash(
    await redis.hgetall(`${prefix}conversation:${request.params.id}`),
  );
  if (!view?.data) return reply.status(404).send({ title: 'no such conversation' });
  return conversationFromView(view.data, view.version);
});
app.get<{ Params: { userId: string } }>('/lists/:userId', async (request) => {
  const ids = await redis.zrevrangebyscore(
    `${prefix}conversations:${request.params.userId}`,
    '+inf',
    '(-inf',
    'LIMIT',
    0,
    20,
  );
  const items = (await heads(ids)).map((v) => listItemFromView(v.data, v.version));
  return { items, next: null };
});

await app.listen({ host: config.HTTP_HOST, port: config.HTTP_PORT });
const close = async () => {
  await app.close();
  redis.disconnect();
  process.exit(0);
};
process.once('SIGTERM', close);
process.once('SIGINT', close);
