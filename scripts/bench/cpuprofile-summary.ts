/**
 * Summarises a V8 .cpuprofile (from `node --cpu-prof`): where the busy time went, by function
 * (self and inclusive) and by area (npm package, workspace folder, Node internals, GC).
 *
 *   npx tsx scripts/bench/cpuprofile-summary.ts FILE.cpuprofile [--from US --to US] [--top N]
 *
 * --from/--to keep only samples inside a window of the monotonic clock in µs (what
 * `process.hrtime.bigint() / 1000n` reads, in any process), so that start-up is left out.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface Entry {
  name: string;
  ms: number;
  /** Share of the busy (non-idle) time in the window. */
  share: number;
}

export interface ProfileSummary {
  /** Wall time covered by the samples in the window. */
  windowMs: number;
  /** Time not idle: JavaScript, native code, GC, and V8/Node bookkeeping ("(program)"). */
  busyMs: number;
  selfByFunction: Entry[];
  totalByFunction: Entry[];
  selfByArea: Entry[];
  totalByArea: Entry[];
  /**
   * For the top self-time functions of Node and native code (socket writes, hashing…): which
   * code outside them called them, so that "writeUtf8String" turns into "ioredis sendCommand".
   */
  callersOfTop: { name: string; callers: Entry[] }[];
}

const root = fileURLToPath(new URL('../..', import.meta.url));
const SPECIAL = new Set(['(garbage collector)', '(program)', '(idle)', '(root)']);

/** Which part of the code a frame belongs to: an npm package, a workspace folder, Node, or V8. */
export function areaOf(frame: CallFrame): string {
  if (SPECIAL.has(frame.functionName)) return frame.functionName;
  const url = frame.url;
  if (url === '') return '(native)';
  if (url.startsWith('node:')) return 'node:internal';
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const [a, b] = url.slice(nm + '/node_modules/'.length).split('/');
    return a?.startsWith('@') ? `${a}/${b}` : (a ?? url);
  }
  const path = url.replace(/^file:\/\//, '').replace(root, '');
  const parts = path.split('/');
  return parts.length > 2 ? `${parts[0]}/${parts[1]}` : path;
}

function functionOf(frame: CallFrame): string {
  if (SPECIAL.has(frame.functionName) || frame.url === '') return frame.functionName || '(anonymous)';
  let where = frame.url.replace(/^file:\/\//, '').replace(root, '');
  const nm = where.lastIndexOf('/node_modules/');
  if (nm >= 0) where = where.slice(nm + '/node_modules/'.length);
  return `${frame.functionName || '(anonymous)'} ${where}:${frame.lineNumber + 1}`;
}

export function summarise(profile: CpuProfile, window: { fromUs?: number; toUs?: number } = {}, top = 25): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = { fn: new Map<string, number>(), area: new Map<string, number>() };
  const callers = new Map<string, Map<string, number>>();
  const total = { fn: new Map<string, number>(), area: new Map<string, number>() };
  const add = (m: Map<string, number>, k: string, v: number) => m.set(k, (m.get(k) ?? 0) + v);
  let t = profile.startTime;
  let windowUs = 0;
  let idleUs = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i] ?? 0;
    if ((window.fromUs !== undefined && t < window.fromUs) || (window.toUs !== undefined && t > window.toUs)) continue;
    // A sample stands for the time until the next one.
    const dt = profile.timeDeltas[i + 1] ?? 0;
    const node = byId.get(profile.samples[i]!)!;
    windowUs += dt;
    if (node.callFrame.functionName === '(idle)') {
      idleUs += dt;
      continue;
    }
    add(self.fn, functionOf(node.callFrame), dt);
    add(self.area, areaOf(node.callFrame), dt);
    // For Node and native frames: the first frame up the stack in a package or in this repository.
    const leafArea = areaOf(node.callFrame);
    for (let id = parent.get(node.id); id !== undefined; id = parent.get(id)) {
      const area = areaOf(byId.get(id)!.callFrame);
      if (leafArea !== '(native)' && leafArea !== 'node:internal') break;
      if (area === '(native)' || area === 'node:internal' || area === '(root)') continue;
      const key = functionOf(node.callFrame);
      const m = callers.get(key) ?? new Map<string, number>();
      callers.set(key, m);
      add(m, functionOf(byId.get(id)!.callFrame), dt);
      break;
    }
    const seenFn = new Set<string>();
    const seenArea = new Set<string>();
    for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
      const frame = byId.get(id)!.callFrame;
      if (frame.functionName === '(root)') continue;
      seenFn.add(functionOf(frame));
      seenArea.add(areaOf(frame));
    }
    for (const k of seenFn) add(total.fn, k, dt);
    for (const k of seenArea) add(total.area, k, dt);
  }
  const busyUs = windowUs - idleUs;
  const list = (m: Map<string, number>, n: number) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, us]) => ({ name, ms: us / 1000, share: busyUs > 0 ? us / busyUs : 0 }));
  return {
    windowMs: windowUs / 1000,
    busyMs: busyUs / 1000,
    selfByFunction: list(self.fn, top),
    totalByFunction: list(total.fn, top),
    selfByArea: list(self.area, top),
    totalByArea: list(total.area, top),
    callersOfTop: list(self.fn, 8)
      .filter((e) => callers.has(e.name))
      .map((e) => ({ name: e.name, callers: list(callers.get(e.name)!, 6) })),
  };
}

export function formatSummary(title: string, s: ProfileSummary): string {
  const pct = (x: number) => `${(x * 100).toFixed(1).padStart(5)}%`;
  const section = (name: string, entries: Entry[]) =>
    [`  ${name}`, ...entries.map((e) => `    ${pct(e.share)} ${e.ms.toFixed(0).padStart(7)} ms  ${e.name}`)].join('\n');
  return [
    `${title}: ${s.busyMs.toFixed(0)} ms busy of ${s.windowMs.toFixed(0)} ms sampled (${pct(s.busyMs / Math.max(s.windowMs, 1)).trim()}); shares are of busy time`,
    section('self time by area', s.selfByArea),
    section('inclusive time by area', s.totalByArea),
    section('self time by function', s.selfByFunction),
    section('inclusive time by function', s.totalByFunction),
    ...s.callersOfTop.map((c) => section(`first caller outside Node of ${c.name}`, c.callers)),
  ].join('\n');
}

export const readProfile = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2);
  const flag = (name: string) => {
    const i = args.indexOf(name);
    return i >= 0 ? Number(args[i + 1]) : undefined;
  };
  const file = args.find((a) => a.endsWith('.cpuprofile'));
  if (!file) throw new Error('usage: cpuprofile-summary.ts FILE.cpuprofile [--from US --to US] [--top N]');
  console.log(formatSummary(file, summarise(readProfile(file), { fromUs: flag('--from'), toUs: flag('--to') }, flag('--top') ?? 25)));
}
