/**
 * Replays a Dockerfile's build outside Docker (no engine runs on our machines): each stage gets
 * a folder standing for its filesystem, COPY copies from the build context (minus .dockerignore)
 * or from an earlier stage's folder, RUN runs in `sh -c` at the stage's WORKDIR. Only the small
 * subset our Dockerfiles use is understood; anything else throws, so a Dockerfile change that
 * this replay cannot follow fails the test instead of being skipped silently.
 */
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);

interface Instruction {
  op: 'FROM' | 'ARG' | 'WORKDIR' | 'COPY' | 'RUN' | 'ENV' | 'USER' | 'EXPOSE' | 'CMD';
  flags: Record<string, string>;
  args: string;
}

interface Stage {
  name: string;
  from: string;
  instructions: Instruction[];
}

const KNOWN = new Set(['FROM', 'ARG', 'WORKDIR', 'COPY', 'RUN', 'ENV', 'USER', 'EXPOSE', 'CMD']);

function parseDockerfile(text: string): Stage[] {
  const logical: string[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!pending && (line === '' || line.startsWith('#'))) continue;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      continue;
    }
    logical.push(pending + line);
    pending = '';
  }
  const stages: Stage[] = [];
  for (const line of logical) {
    const [, op = '', rest = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    const upper = op.toUpperCase();
    if (!KNOWN.has(upper)) throw new Error(`Dockerfile instruction the replay does not know: ${line}`);
    const flags: Record<string, string> = {};
    let args = rest;
    for (let m = /^--([a-z-]+)=(\S+)\s+/.exec(args); m; m = /^--([a-z-]+)=(\S+)\s+/.exec(args)) {
      flags[m[1]!] = m[2]!;
      args = args.slice(m[0].length);
    }
    if (upper === 'FROM') {
      const [from = '', , name] = args.split(/\s+/);
      stages.push({ name: name ?? String(stages.length), from, instructions: [] });
      continue;
    }
    const stage = stages.at(-1);
    if (!stage) throw new Error(`${upper} before FROM`);
    stage.instructions.push({ op: upper as Instruction['op'], flags, args });
  }
  return stages;
}

/** A .dockerignore pattern as a RegExp over a path relative to the context ('/' separated). */
function ignoreRegExp(pattern: string): RegExp {
  const body = pattern
    .replace(/^\/+|\/+$/g, '')
    .split(/(\*\*\/|\*|\?)/)
    .map((part) =>
      part === '**/' ? '(?:.*/)?' : part === '*' ? '[^/]*' : part === '?' ? '[^/]' : part.replace(/[.+^${}()|[\]\\]/g, '\\$&'),
    )
    .join('');
  return new RegExp(`^${body}(?:/.*)?$`);
}

function dockerignoreFilter(contextDir: string): (path: string) => boolean {
  const file = join(contextDir, '.dockerignore');
  const patterns = existsSync(file)
    ? readFileSync(file, 'utf8')
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l && !l.startsWith('#'))
    : [];
  if (patterns.some((p) => p.startsWith('!'))) throw new Error('the replay does not support ! patterns in .dockerignore');
  const res = patterns.map(ignoreRegExp);
  return (path) => !res.some((re) => re.test(path));
}

export interface ReplayResult {
  /** Folder standing for the final stage's filesystem root. */
  root: string;
  workdir: string;
  env: Record<string, string>;
  user: string;
  exposed: number[];
  cmd: string[];
  /** The final stage's base image, e.g. node:24-trixie-slim. */
  from: string;
}

/**
 * Replays every stage of `dockerfile` with `contextDir` as the build context, in folders under
 * `workDir`. RUN commands see `env` (PATH, HOME...) plus the stage's ENV.
 */
export async function replayDockerfile(
  dockerfile: string,
  contextDir: string,
  workDir: string,
  env: Record<string, string>,
): Promise<ReplayResult> {
  const stages = parseDockerfile(readFileSync(dockerfile, 'utf8'));
  const keep = dockerignoreFilter(contextDir);
  const rootOf = new Map<string, string>();
  let result: ReplayResult | undefined;
  for (const [i, stage] of stages.entries()) {
    const root = join(workDir, `stage-${i}`);
    mkdirSync(root, { recursive: true });
    rootOf.set(stage.name, root);
    const state: ReplayResult = { root, workdir: '/', env: {}, user: 'root', exposed: [], cmd: [], from: stage.from };
    const inRoot = (p: string) => join(root, p.startsWith('/') ? p : join(state.workdir, p));
    for (const ins of stage.instructions) {
      switch (ins.op) {
        case 'WORKDIR':
          state.workdir = ins.args.startsWith('/') ? ins.args : join(state.workdir, ins.args);
          mkdirSync(inRoot('.'), { recursive: true });
          break;
        case 'ENV':
          for (const [, k, v] of ins.args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=(\S+)/g)) state.env[k!] = v!;
          break;
        case 'COPY': {
          const parts = ins.args.split(/\s+/);
          const dest = parts.pop()!;
          const fromRoot = ins.flags['from'] ? rootOf.get(ins.flags['from']) : undefined;
          if (ins.flags['from'] && !fromRoot) throw new Error(`COPY --from=${ins.flags['from']}: no such stage`);
          for (const src of parts) {
            const source = fromRoot ? join(fromRoot, src) : join(contextDir, src);
            if (!fromRoot && !keep(src.replace(/\/+$/, ''))) throw new Error(`COPY ${src} is excluded by .dockerignore`);
            const isDir = statSync(source).isDirectory();
            const target = dest.endsWith('/') && !isDir ? join(inRoot(dest), src.split('/').pop()!) : inRoot(dest);
            mkdirSync(isDir ? target : dirname(target), { recursive: true });
            cpSync(source, target, {
              recursive: true,
              verbatimSymlinks: true,
              filter: (p) => fromRoot !== undefined || keep(relative(contextDir, p).split('\\').join('/')),
            });
          }
          break;
        }
        case 'RUN':
          await exec('sh', ['-c', ins.args], { cwd: inRoot('.'), env: { ...env, ...state.env }, maxBuffer: 64 * 1024 * 1024 }).catch(
            (err: Error & { stderr?: string }) => {
              throw new Error(`RUN ${ins.args} failed in ${dockerfile}:\n${err.stderr ?? err.message}`);
            },
          );
          break;
        case 'USER':
          state.user = ins.args;
          break;
        case 'EXPOSE':
          state.exposed.push(...ins.args.split(/\s+/).map(Number));
          break;
        case 'CMD':
          state.cmd = JSON.parse(ins.args) as string[];
          break;
        case 'ARG':
          throw new Error('ARG is not replayed yet: teach test/deploy/dockerfile.ts before using it');
        default:
          throw new Error(`unhandled ${ins.op}`);
      }
    }
    result = state;
  }
  if (!result) throw new Error(`${dockerfile} has no stage`);
  return result;
}
