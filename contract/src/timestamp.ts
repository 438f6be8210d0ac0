/**
 * A timestamp's epoch milliseconds: Date.parse, taken in a few integer steps for the form devices
 * and the SDK send (`YYYY-MM-DDTHH:MM:SSZ`, or with 3 decimals). Every reading's time is parsed
 * two or three times on the write path (its window, its identity or fingerprint) and again by the
 * processor, and Date.parse costs more than the rest of a fingerprint (docs/performance.md, issue
 * 19's ingest pass). Any other text, a year before 100 or a day past the 28th (where a month's
 * length matters) goes to Date.parse: the answer is always Date.parse's.
 */
export function timestampMs(text: string): number {
  const n = text.length;
  if (
    (n !== 20 && n !== 24) ||
    text.charCodeAt(n - 1) !== 90 /* Z */ ||
    text.charCodeAt(4) !== 45 /* - */ ||
    text.charCodeAt(7) !== 45 ||
    text.charCodeAt(10) !== 84 /* T */ ||
    text.charCodeAt(13) !== 58 /* : */ ||
    text.charCodeAt(16) !== 58 ||
    (n === 24 && text.charCodeAt(19) !== 46) /* . */
  ) {
    return Date.parse(text);
  }
  const year = digits(text, 0, 4);
  const month = digits(text, 5, 2);
  const day = digits(text, 8, 2);
  const hour = digits(text, 11, 2);
  const minute = digits(text, 14, 2);
  const second = digits(text, 17, 2);
  const ms = n === 24 ? digits(text, 20, 3) : 0;
  // Date.UTC reads the years 0-99 as 1900-1999.
  if (year < 100 || month < 1 || month > 12 || day < 1 || day > 28 || hour > 23 || minute > 59 || second > 59 || hour < 0 || minute < 0 || second < 0 || ms < 0) {
    return Date.parse(text);
  }
  return Date.UTC(year, month - 1, day, hour, minute, second, ms);
}

/** The decimal number of `length` digits at `from`; -1 when one of them is not a digit. */
function digits(text: string, from: number, length: number): number {
  let value = 0;
  for (let i = from; i < from + length; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    value = value * 10 + d;
  }
  return value;
}
