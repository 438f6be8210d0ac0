/**
 * Batch sizing: a batch is capped in readings (the server's BATCH_MAX_READINGS) and in bytes (its
 * body limit, which it applies after gzip decompression, so the JSON is what counts).
 */

/** Bytes of `{"readings":[]}` around the readings of a batch body. */
const ENVELOPE_BYTES = '{"readings":[]}'.length;

/** UTF-8 length of a string, without encoding it. */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      bytes += 4; // a surrogate pair: one 4-byte code point
      i++;
    } else bytes += 3;
  }
  return bytes;
}

/** Bytes a reading takes in a batch body (as JSON, the separating comma included). */
export const readingBytes = (reading: unknown) => utf8Length(JSON.stringify(reading)) + 1;

/**
 * How many of the `available` readings at the head of a queue go into the next batch: at most
 * `maxCount`, and no more than fit in `maxBytes` of body. One reading always goes, so a reading
 * larger than the cap alone is still sent (the server answers for it).
 */
export function fitBatch(bytesAt: (i: number) => number, available: number, maxCount: number, maxBytes: number): number {
  let n = 0;
  let bytes = ENVELOPE_BYTES - 1; // the last reading has no comma
  while (n < available && n < maxCount) {
    bytes += bytesAt(n);
    if (n > 0 && bytes > maxBytes) break;
    n++;
  }
  return n;
}
