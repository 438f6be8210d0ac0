import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { Bucket } from '@energy-pipeline/contract';
import * as keyModule from '../../server-kit/src/redis-keys.js';
import { layoutKey } from '../../server-kit/src/layout.js';
import { shardStreams } from '../../server-kit/src/shards.js';
import { markdownAnchors } from '../support/markdown.js';

// DESIGN.md is the data model's one description: these checks keep it in step with the code.
// None needs Redis: the key builders are pure functions.

const root = fileURLToPath(new URL('../..', import.meta.url));
const design = readFileSync(join(root, 'DESIGN.md'), 'utf8');

/** Builders called with placeholders as arguments: what they return is the pattern DESIGN.md shows. */
const STREAM = '<stream>';
const sample = {
  group: '<group>',
  site: '<site>',
  device: '<device>',
  bucket: '<bucket>' as Bucket,
  name: '<name>',
};

/** Every key pattern a builder makes, under the name DESIGN.md gives the builder. */
function builtKeys(): Map<string, string> {
  const out = new Map<string, string>();
  const each = (builder: string, keys: Record<string, unknown>) => {
    for (const [prop, value] of Object.entries(keys)) {
      const key =
        typeof value === 'string'
          ? value
          : typeof value === 'function'
            ? callWithSamples(prop, value as (...args: unknown[]) => unknown)
            : expect.unreachable(`${builder}().${prop} is neither a key nor a key builder`);
      out.set(`${builder}().${prop}`, key);
    }
  };
  each('redisKeys', keyModule.redisKeys({ stream: STREAM, group: sample.group }));
  each('siteKeys', keyModule.siteKeys(STREAM));
  each('ingestKeys', keyModule.ingestKeys(STREAM));
  out.set('layoutKey()', layoutKey('<REDIS_STREAM>'));
  out.set('RATE_LIMIT_KEY_PREFIX', keyModule.RATE_LIMIT_KEY_PREFIX);
  return out;
}

/** The arguments of each per-site key builder, by its parameter names. */
function callWithSamples(prop: string, build: (...args: unknown[]) => unknown): string {
  const params = /^\(?([^)=]*)\)?\s*=>/.exec(build.toString())?.[1] ?? '';
  const names = params.split(',').map((p) => p.trim()).filter(Boolean);
  const values: Record<string, unknown> = { siteId: sample.site, deviceId: sample.device, bucket: sample.bucket, name: sample.name };
  const args = names.map((n) => (n in values ? values[n] : expect.unreachable(`no sample value for parameter ${n} of ${prop}`)));
  return String(build(...args));
}

/** Exports of redis-keys.ts that build no key themselves; each must still be named in DESIGN.md. */
const HELPERS = ['hashTag', 'identitySpace'];

function luaFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) return [];
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return luaFiles(path);
    return name.endsWith('.lua') ? [relative(root, path)] : [];
  });
}

/** Targets of the Markdown links `[text](target)` outside code blocks. */
function links(markdown: string): string[] {
  const prose = markdown.replace(/^```[\s\S]*?^```/gm, '');
  return [...prose.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!);
}

describe('DESIGN.md', () => {
  it('keeps the sections other documents link to', () => {
    const anchors = markdownAnchors(design);
    for (const anchor of ['redis-keys', 'lua-scripts', 'exactly-once-step-by-step', 'failure-modes', 'the-life-of-one-reading', 'connections-by-role']) {
      expect(anchors, `DESIGN.md#${anchor}`).toContain(anchor);
    }
  });

  it('documents every key builder: its name and the key pattern it makes', () => {
    const keys = builtKeys();
    expect(keys.size).toBeGreaterThan(10);
    for (const [builder, pattern] of keys) {
      expect(design, `the builder ${builder}`).toContain(`\`${builder}`);
      expect(design, `the key ${pattern} of ${builder}`).toContain(pattern);
    }
  });

  it('knows every export of redis-keys.ts, so a new one cannot go undocumented', () => {
    const builders = ['redisKeys', 'siteKeys', 'ingestKeys', 'RATE_LIMIT_KEY_PREFIX'];
    expect(Object.keys(keyModule).sort(), 'a new export of redis-keys.ts: add it to this test and to DESIGN.md').toEqual(
      [...builders, ...HELPERS].sort(),
    );
    for (const helper of HELPERS) expect(design, helper).toContain(`\`${helper}`);
  });

  it('documents the dedupe fields and the shard stream names', () => {
    expect(design).toContain(keyModule.identitySpace(sample.site, sample.device, true));
    expect(design).toContain(keyModule.identitySpace(sample.site, sample.device, false));
    expect(shardStreams('<REDIS_STREAM>', 1)).toEqual(['<REDIS_STREAM>']);
    const sharded = shardStreams('<REDIS_STREAM>', 4);
    sharded.forEach((stream, i) => {
      const pattern = stream.replace(`.${i}.`, '.<i>.').replace(/\.(\d+)\}$/, '.<k>}');
      expect(design, stream).toContain(pattern);
    });
  });

  it('names every Lua script and include in the repository by its path', () => {
    const files = luaFiles(root);
    expect(files.length).toBeGreaterThan(5);
    for (const file of files) expect(design, file).toContain(file);
  });

  it('links only to files that exist and headings that exist', () => {
    const targets = links(design);
    expect(targets.length).toBeGreaterThan(20);
    const anchors = markdownAnchors(design);
    for (const target of targets) {
      if (/^[a-z]+:/.test(target)) continue;
      const [path, anchor] = target.split('#');
      if (!path) {
        expect(anchors, target).toContain(anchor);
        continue;
      }
      const file = resolve(dirname(join(root, 'DESIGN.md')), path);
      expect(file.startsWith(root), target).toBe(true);
      expect(existsSync(file), `${target} does not exist`).toBe(true);
    }
  });
});
