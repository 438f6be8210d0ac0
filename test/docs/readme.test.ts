import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { markdownAnchors } from '../support/markdown.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const lines = readme.split('\n');
const docs = ['README.md', ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

/** Links outside code blocks: `[text](target)`, images included. */
function links(markdown: string): string[] {
  const prose = markdown.replace(/^```[^\n]*\n[\s\S]*?^```$/gm, '');
  return [...prose.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!);
}

describe('README.md', () => {
  it('stays short: at most 180 lines', () => {
    expect(lines.length).toBeLessThanOrEqual(180);
  });

  it('shows the two set-up commands on its first screen', () => {
    const firstScreen = lines.slice(0, 30).join('\n');
    expect(firstScreen).toContain('npm ci && npm start');
    expect(firstScreen).toContain('npm ci && npm test');
  });

  it('links each of the five guarantees to its section of DESIGN.md', () => {
    const section = readme.split('\n## Guarantees\n')[1]!.split('\n## ')[0]!;
    const anchors = [...section.matchAll(/\]\(DESIGN\.md#([^)]+)\)/g)].map((m) => m[1]);
    expect(anchors.sort()).toEqual(
      ['exactly-once-step-by-step', 'failure-modes', 'lua-scripts', 'redis-keys', 'the-life-of-one-reading'].sort(),
    );
  });

  it('maps every top-level folder of the repository', () => {
    const map = readme.split('\n## Repository map\n')[1]!.split('\n## ')[0]!;
    for (const folder of ['contract', 'server-kit', 'ingest', 'process', 'client', 'charts', 'ops', 'scripts', 'test']) {
      expect(map, folder).toContain(`| \`${folder}/\` |`);
      expect(existsSync(join(root, folder)), folder).toBe(true);
    }
  });

  it('indexes every page in docs/', () => {
    for (const page of docs.filter((d) => d !== 'README.md')) expect(readme, page).toContain(`](${page})`);
  });
});

describe('links in README.md and docs/', () => {
  it.each(docs)('%s: every relative link names a file that exists, and a heading in it', (doc) => {
    for (const link of links(readFileSync(join(root, doc), 'utf8'))) {
      if (/^[a-z]+:/.test(link)) continue;
      const [path, anchor] = link.split('#') as [string, string | undefined];
      const target = path ? join(dirname(join(root, doc)), path) : join(root, doc);
      // DESIGN.md is written on another branch; its anchors are checked once it is here.
      if (path.endsWith('DESIGN.md') && !existsSync(target)) continue;
      expect(existsSync(target), `${doc}: ${link}`).toBe(true);
      if (anchor) expect(markdownAnchors(readFileSync(target, 'utf8')), `${doc}: ${link}`).toContain(anchor);
    }
  });
});

describe('the Node versions docs/deploy.md states', () => {
  const deploy = readFileSync(join(root, 'docs/deploy.md'), 'utf8');
  const section = deploy.split('\n## Node versions\n')[1]!.split('\n## ')[0]!;

  it('are what engines says, in the root package and the SDK', () => {
    for (const pkg of ['package.json', 'client/package.json']) {
      const engines = (JSON.parse(readFileSync(join(root, pkg), 'utf8')) as { engines: { node: string } }).engines.node;
      expect(section, pkg).toContain(`\`${engines}\``);
    }
  });

  it('are the lines CI tests, with the images on Node 24', () => {
    const ci = parse(readFileSync(join(root, '.github/workflows/ci.yml'), 'utf8')) as {
      jobs: { test: { strategy: { matrix: { node: number[] } } } };
    };
    const tested = ci.jobs.test.strategy.matrix.node;
    expect(tested).toEqual([20, 22, 24]);
    for (const line of tested) expect(section).toMatch(new RegExp(`^\\| ${line}[. ]`, 'm'));
    expect(readFileSync(join(root, '.ci/run'), 'utf8')).toMatch(/^NODE24_VERSION=24\./m);
    for (const service of ['ingest', 'process']) {
      expect(readFileSync(join(root, service, 'Dockerfile'), 'utf8'), service).toMatch(/^FROM node:24-/m);
    }
    expect(section).toContain('`node:24-trixie-slim`');
  });
});
