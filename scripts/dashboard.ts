/**
 * Builds the processor's dashboard (process/dashboard → process/dashboard/dist) when its build is
 * missing or older than its sources: `npm start` and the browser tests call it, so a fresh clone
 * shows the dashboard after `npm ci && npm start`, and a second start skips the build (a hash of
 * the sources is kept beside the build). The container image builds it in its Dockerfile.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const dashboard = join(root, 'process', 'dashboard');
const stamp = join(dashboard, 'dist', '.sources-sha256');
/** What the build reads: its own folder, and the workspace sources it bundles (SDK watch, contract types). */
const SOURCES = [join(dashboard, 'src'), join(dashboard, 'index.html'), join(dashboard, 'vite.config.ts'), join(root, 'client', 'src'), join(root, 'contract', 'src'), join(root, 'process', 'package.json'), join(root, 'package-lock.json')];

function files(path: string): string[] {
  if (!existsSync(path)) return [];
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path, { recursive: true, encoding: 'utf8' })
    .map((f) => join(path, f))
    .filter((f) => statSync(f).isFile())
    .sort();
}

function sourcesHash(): string {
  const hash = createHash('sha256');
  for (const file of SOURCES.flatMap(files)) hash.update(file.slice(root.length)).update('\0').update(readFileSync(file));
  return hash.digest('hex');
}

const lock = join(dashboard, '.build-lock');
/** A lock older than this was left by a build that died. */
const STALE_LOCK_MS = 120_000;

/**
 * Builds unless the last build was made from these very sources; returns whether it built. Two
 * callers at once (`npm start` and a test, two test files) take turns through a lock directory, so
 * that one build never empties the folder another is writing.
 */
export async function ensureDashboard(say: (line: string) => void = () => {}): Promise<boolean> {
  const hash = sourcesHash();
  const fresh = () => existsSync(stamp) && readFileSync(stamp, 'utf8') === hash && existsSync(join(dashboard, 'dist', 'index.html'));
  if (fresh()) return false;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (existsSync(lock) && Date.now() - statSync(lock).mtimeMs > STALE_LOCK_MS) rmSync(lock, { recursive: true, force: true });
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  try {
    if (fresh()) return false; // built by whoever held the lock
    say('building the dashboard (process/dashboard, once per change)');
    const { build } = await import('vite');
    await build({ configFile: join(dashboard, 'vite.config.ts'), logLevel: 'warn' });
    writeFileSync(stamp, hash);
    return true;
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}
