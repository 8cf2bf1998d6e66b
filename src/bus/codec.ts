// Payload codecs for buses that carry bytes (JetStream): how a message's payload becomes bytes and back.
// The bus stays generic over the payload type; the codec is a constructor parameter.

export interface PayloadCodec<T> {
  encode(payload: T): Uint8Array;
  /** Throws an Error saying what is malformed. */
  decode(bytes: Uint8Array): T;
}

/**
 * JSON, for payloads of any shape. (Event batches have their own codec, eventBatchCodec in
 * src/server/ingest-batch.ts: JSON too, because it carries every field of VigilEvent, where the protobuf
 * wire form drops `winlog`; or the agent's own message when ingest stored it as sent.)
 */
export function jsonCodec<T>(): PayloadCodec<T> {
  return {
    encode: (payload) => Buffer.from(JSON.stringify(payload)),
    decode: (bytes) => JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')) as T,
  };
}

/** Bytes as they are: for a log that only carries payloads other threads encode and decode. */
export function bytesCodec(): PayloadCodec<Uint8Array> {
  return { encode: (payload) => payload, decode: (bytes) => bytes };
}
