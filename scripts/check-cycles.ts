/**
 * Fails when modules import each other in a cycle: within each workspace (relative imports,
 * type-only ones included: a cycle of types is still two modules that cannot be read apart), and
 * between workspaces at run time (their package.json `dependencies`). Development dependencies
 * may point both ways and are left out: the SDK bundles the live router's type from the
 * processor when it is built, and the processor's dashboard is built with the SDK; neither is an
 * import at run time. Part of `npm run lint`.
 *
 * Hand-written rather than madge or dependency-cruiser: both parse TypeScript through the
 * `typescript` package's JavaScript API, which TypeScript 7 (this repository's compiler) does not
 * have, and dependency-cruiser needs Node 22.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const workspaces = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { workspaces: string[] }).workspaces;

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'node_modules' || name === 'dist' ? [] : sources(path);
    return /\.tsx?$/.test(name) && !name.endsWith('.d.ts') ? [path] : [];
  });
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\b[^'"`;]*?from\s*['"](\.{1,2}\/[^'"]+)['"]|import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g;

/** Each module's relative imports, resolved to files. */
export function importGraph(files: string[]): Map<string, string[]> {
  const known = new Set(files);
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    const targets: string[] = [];
    for (const m of text.matchAll(IMPORT)) {
      const spec = (m[1] ?? m[2])!;
      const base = resolve(dirname(file), spec).replace(/\.js$/, '');
      const target = [`${base}.ts`, `${base}.tsx`, join(base, 'index.ts')].find((c) => known.has(c));
      if (target) targets.push(target);
    }
    graph.set(file, targets);
  }
  return graph;
}

/** Strongly connected components of more than one node (or a node importing itself): the cycles. */
export function cycles(graph: Map<string, string[]>): string[][] {
  let index = 0;
  const indexOf = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string) => {
    indexOf.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!indexOf.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, indexOf.get(w)!));
    }
    if (low.get(v) === indexOf.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(component.sort());
    }
  };
  for (const v of graph.keys()) if (!indexOf.has(v)) visit(v);
  return found;
}

/** Every cycle in the repository, as lines to print; none when the imports are a tree. */
export function findProblems(): string[] {
  const problems: string[] = [];
  for (const ws of workspaces) {
    const dir = join(root, ws, 'src');
    for (const cycle of cycles(importGraph(sources(dir)))) problems.push(`${ws}: ${cycle.map((f) => relative(root, f)).join(' <-> ')}`);
  }
  const packages = new Map(
    workspaces.map((ws) => {
      const pkg = JSON.parse(readFileSync(join(root, ws, 'package.json'), 'utf8')) as { name: string; dependencies?: Record<string, string> };
      return [pkg.name, Object.keys(pkg.dependencies ?? {})] as const;
    }),
  );
  const packageGraph = new Map([...packages].map(([name, deps]) => [name, deps.filter((d) => packages.has(d))]));
  for (const cycle of cycles(packageGraph)) problems.push(`workspaces: ${cycle.join(' <-> ')}`);

  return problems;
}

// Run as a script (npm run lint:cycles), not when a test imports the functions above.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const problems = findProblems();
  if (problems.length > 0) {
    console.error(`Import cycles:\n  ${problems.join('\n  ')}`);
    process.exit(1);
  }
  console.log(`No import cycles in ${workspaces.join(', ')}, nor between them.`);
}
