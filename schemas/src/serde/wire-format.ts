/**
 * The Confluent wire format: magic byte 0, the writer schema's registry id as a 4-byte big-endian
 * integer, then the Avro binary body. Pure functions, so the framing is tested without a registry.
 */
import { TruncatedPayloadError, WrongMagicByteError } from './errors.ts';

export const MAGIC_BYTE = 0;
export const HEADER_BYTES = 5;

export function frame(schemaId: number, body: Buffer): Buffer {
  const header = Buffer.alloc(HEADER_BYTES);
  header.writeUInt8(MAGIC_BYTE, 0);
  header.writeInt32BE(schemaId, 1);
  return Buffer.concat([header, body]);
}

export function unframe(payload: Buffer): { schemaId: number; body: Buffer } {
  if (payload.length < 1) throw new TruncatedPayloadError('empty payload');
  const magic = payload.readUInt8(0);
  if (magic !== MAGIC_BYTE) throw new WrongMagicByteError(magic);
  if (payload.length < HEADER_BYTES) {
    throw new TruncatedPayloadError(`${payload.length} bytes, shorter than the 5-byte header`);
  }
  return { schemaId: payload.readInt32BE(1), body: payload.subarray(HEADER_BYTES) };
}
