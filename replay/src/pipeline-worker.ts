/**
 * The worker thread of a replay's pipeline (pipeline.ts): decodes, redacts, filters and writes
 * the batches the consumer's thread hands over, in the order they come, into the output the
 * options name. It answers each batch with the counts so far, or with why it failed.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createSchemaRegistry } from '@parley/platform/schema-registry';
import { loadSchemaSet } from '@parley/schemas/avro/schema-set';
import { AvroSerde } from '@parley/schemas/serde/serde';
import type { ToMain, ToWorker, WorkerSetup } from './pipeline.ts';
import { type RawBatch, unpackBatch } from './raw-batch.ts';
import { createRecordPipeline, UnreadableRecordError } from './record-pipeline.ts';
import { openSink } from './sinks.ts';

const port = parentPort;
if (!port) throw new Error('pipeline-worker.ts runs as a worker thread');
const setup = workerData as WorkerSetup;
const schemas = loadSchemaSet();
const send = (message: ToMain) => port.postMessage(message);
const sink = openSink(setup.options.format, setup.options);
const pipeline = createRecordPipeline(
  setup.topic,
  setup.options,
  { serde: new AvroSerde(createSchemaRegistry(setup.registry), schemas), schemas, sink },
  (position, error) => send({ kind: 'unreadable', position, message: error.message }),
);

const failure = (error: unknown): ToMain => ({
  kind: 'failed',
  message: (error as Error).message ?? String(error),
  code: (error as { code?: unknown }).code === 'EPIPE' ? 'EPIPE' : undefined,
  position: error instanceof UnreadableRecordError ? error.position : undefined,
  cause: error instanceof UnreadableRecordError ? (error.cause as Error).message : undefined,
});

let failed = false;
/** Batches are handled one after the other: messages arrive while one is being written. */
let queue = Promise.resolve();
port.on('message', (message: ToWorker) => {
  queue = queue.then(async () => {
    if (message.kind === 'batch' || message.kind === 'formatted') {
      if (failed) return;
      try {
        if (message.kind === 'batch') {
          await pipeline.handle(message.batch.partition, unpackBatch(message.batch as RawBatch));
        } else {
          await sink.writeFormatted?.(message.formatted);
        }
        send({ kind: 'handled', counts: pipeline.counts, enough: pipeline.enough() });
      } catch (error) {
        failed = true;
        send(failure(error));
      }
      return;
    }
    try {
      await sink.close();
      send({ kind: 'closed', counts: pipeline.counts });
    } catch (error) {
      send(failure(error));
    }
  });
});
