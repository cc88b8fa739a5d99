/** A command as a Kafka record: keyed by its aggregate id, Avro value, standard headers. */
import type { Message } from '@parley/platform/kafka';
import type { CommandMetadata, RecordMap, RecordName } from '../generated/records.ts';
import { writeHeaders } from './headers.ts';
import type { AvroSerde } from './serde.ts';

export async function commandRecord<N extends RecordName>(
  serde: AvroSerde,
  type: N,
  value: RecordMap[N] & { metadata: CommandMetadata },
): Promise<Message> {
  const { metadata } = value;
  const { payload, schemaId } = await serde.encode(type, value);
  return {
    key: metadata.aggregateId,
    value: payload,
    headers: writeHeaders({
      id: metadata.commandId,
      type,
      correlationId: metadata.correlationId,
      causationId: metadata.correlationId,
      actor: metadata.actor,
      schemaId,
    }),
  };
}
