/** The in-chart Valkey: a memory bound below its container limit, and no password on a command line. */
import { describe, expect, it } from 'vitest';
import { find, type Manifest, render } from './helm.js';

const valkey = (ms: Manifest[]) => find(ms, 'StatefulSet', 'ep-redis')['spec'].template.spec.containers[0];
const argAfter = (args: string[], flag: string) => args[args.indexOf(flag) + 1];

describe('in-chart Valkey memory', () => {
  it.each([
    // limit, percent, expected --maxmemory in bytes (floor of percent × limit)
    ['512Mi', undefined, '429496729'],
    ['1Gi', undefined, '858993459'],
    ['1G', undefined, '800000000'],
    ['1.5Gi', undefined, '1288490188'],
    ['300M', '90', '270000000'],
    ['2048Ki', '50', '1048576'],
  ])('sets --maxmemory from limits.memory %s at %s %% (default 80) and keeps noeviction', async (limit, percent, bytes) => {
    const args = ['--set', `redis.internal.resources.limits.memory=${limit}`];
    if (percent) args.push('--set', `redis.internal.maxmemoryPercent=${percent}`);
    const c = valkey(await render(args));
    expect(argAfter(c.args, '--maxmemory')).toBe(bytes);
    expect(argAfter(c.args, '--maxmemory-policy')).toBe('noeviction');
    expect(c.resources.limits.memory).toBe(limit);
  });

  it('reads a limit given as a plain number of bytes', async () => {
    // --set-json keeps it a number, as a values file would.
    const c = valkey(await render(['--set-json', 'redis.internal.resources.limits={"memory":268435456}']));
    expect(argAfter(c.args, '--maxmemory')).toBe('214748364');
  });

  it('refuses a Valkey without a memory limit, or with one that is not a quantity', async () => {
    await expect(render(['--set', 'redis.internal.resources.limits.memory=null'])).rejects.toThrow(/limits.*memory/);
    await expect(render(['--set', 'redis.internal.resources.limits=null'])).rejects.toThrow(/limits/);
    // The template says so too, for renders that skip the schema.
    await expect(render(['--skip-schema-validation', '--set', 'redis.internal.resources.limits.memory=null'])).rejects.toThrow(
      /limits.memory is required: Valkey's --maxmemory is derived from it/,
    );
    await expect(render(['--skip-schema-validation', '--set', 'redis.internal.resources.limits.memory=lots'])).rejects.toThrow(
      /"lots" is not a memory quantity/,
    );
    await expect(render(['--set', 'redis.internal.resources.limits.memory=lots'])).rejects.toThrow(/limits\/memory/);
    await expect(render(['--set', 'redis.internal.maxmemoryPercent=100'])).rejects.toThrow(/maxmemoryPercent/);
  });
});

describe('in-chart Valkey password', () => {
  it('gives the probes the password in REDISCLI_AUTH, never in argv', async () => {
    for (const args of [[], ['--set', 'redis.internal.existingSecret=valkey-auth', '--set', 'redis.internal.passwordKey=pw']]) {
      const ms = await render(args);
      const c = valkey(ms);
      const secret = args.length ? { name: 'valkey-auth', key: 'pw' } : { name: 'ep-redis-auth', key: 'password' };
      expect(c.env).toEqual([{ name: 'REDISCLI_AUTH', valueFrom: { secretKeyRef: secret } }]);
      const probeCommands = [c.readinessProbe, c.livenessProbe, c.startupProbe]
        .flatMap((p) => p.exec?.command ?? [])
        .join(' ');
      expect(probeCommands).toContain('valkey-cli ping');
      expect(probeCommands).not.toMatch(/ -a |--pass|--user|\$REDIS|\$\(|AUTH/);
      // The server takes it from the environment too; Valkey rewrites its process title at start.
      expect(argAfter(c.args, '--requirepass')).toBe('$(REDISCLI_AUTH)');
    }
  });
});
