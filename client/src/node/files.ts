import { existsSync, readFileSync, writeSync } from 'node:fs';

/** Complete lines of a file, none if it is missing: a last line without its newline was never fully written. */
export function completeLines(path: string): string[] {
  if (!existsSync(path)) return [];
  const text = readFileSync(path, 'utf8');
  const end = text.lastIndexOf('\n');
  return end < 0 ? [] : text.slice(0, end).split('\n').filter(Boolean);
}

/** Writes all of `data` at the file position (writeSync may write less than asked). */
export function writeAll(fd: number, data: string | Buffer) {
  const bytes = typeof data === 'string' ? Buffer.from(data) : data;
  for (let off = 0; off < bytes.length; ) off += writeSync(fd, bytes, off);
}
