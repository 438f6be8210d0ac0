/**
 * ASCII text written byte by byte into one reused buffer and taken as a string at the end: how
 * the append script's port writes a call's records and places. Building them as strings made
 * several short strings per reading (a fingerprint's parts, each record, the template around
 * it), and their garbage cost ingest more than the script's work per reading (issue 19's ingest
 * pass in docs/performance.md). Synchronous use only: one buffer serves every call in turn.
 */
export class AsciiText {
  private bytes = Buffer.allocUnsafe(16_384);
  private length = 0;

  /** Starts a text of at most `most` bytes. */
  start(most: number): this {
    if (this.bytes.length < most) this.bytes = Buffer.allocUnsafe(2 * most);
    this.length = 0;
    return this;
  }

  /** One character, by its code (below 128). */
  char(code: number) {
    this.bytes[this.length++] = code;
  }

  /** A non-negative integer in decimal. */
  int(n: number) {
    const from = this.length;
    do {
      this.bytes[this.length++] = 48 + (n % 10);
      n = Math.floor(n / 10);
    } while (n > 0);
    // Written lowest digit first: turn them round.
    for (let i = from, j = this.length - 1; i < j; i++, j--) {
      const d = this.bytes[i]!;
      this.bytes[i] = this.bytes[j]!;
      this.bytes[j] = d;
    }
  }

  /** Bytes written since start() or the last take(). */
  get written(): number {
    return this.length;
  }

  /** The text written since start(), or since the last take(); the next text starts empty. */
  take(): string {
    const text = this.bytes.toString('latin1', 0, this.length);
    this.length = 0;
    return text;
  }
}
