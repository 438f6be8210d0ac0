/** The test Redis Cluster helper itself: it forms, spreads keys by slot, fails over, and cleans up. */
import { existsSync } from 'node:fs';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ClusterNode, SLOT_COUNT, type SlotRange } from '../../scripts/lib/cluster-nodes.js';
import { startRedisCluster, type TestCluster } from '../../scripts/lib/redis-cluster.js';
import { eventually } from '../../scripts/lib/redis-server.js';

const slotCount = (ranges: readonly SlotRange[]) => ranges.reduce((n, [a, b]) => n + b - a + 1, 0);
const serves = (node: ClusterNode, slot: number) => node.slots.some(([a, b]) => a <= slot && slot <= b);
/** True when nothing listens on `port` any more. */
const refuses = async (port: number) => {
  const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => null });
  probe.on('error', () => {});
  try {
    await probe.connect();
    probe.disconnect();
    return false;
  } catch {
    return true;
  }
};

describe('a 3-master Redis Cluster with a password', () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await startRedisCluster({ password: 'cluster-secret' });
  }, 60_000);
  afterAll(() => cluster?.stop());

  it('forms: three masters share all 16384 slots without overlap, and every node says cluster_state:ok', async () => {
    const masters = await cluster.masters();
    expect(masters).toHaveLength(3);
    expect(masters.reduce((n, m) => n + slotCount(m.slots), 0)).toBe(SLOT_COUNT);
    for (const slot of [0, 5000, 10_000, SLOT_COUNT - 1]) expect(masters.filter((m) => serves(m, slot))).toHaveLength(1);
    expect(serves(masters[0]!, 0)).toBe(true);
    expect(cluster.seedNodes).toBe(cluster.startupNodes.map((n) => `127.0.0.1:${n.port}`).join(','));
    expect(new Set(cluster.seedNodes.split(','))).toEqual(new Set(masters.map((m) => m.address)));
    for (const address of cluster.seedNodes.split(',')) {
      expect(address).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(address).not.toBe('127.0.0.1:6379');
      expect(String(await cluster.nodeClient(address).call('CLUSTER', 'INFO'))).toContain('cluster_state:ok');
    }
  });

  it('asks for the password on every node; the helper\'s own clients have it', async () => {
    for (const { port } of cluster.startupNodes) {
      const anonymous = new Redis({ port, host: '127.0.0.1', lazyConnect: true, enableReadyCheck: false, retryStrategy: () => null });
      anonymous.on('error', () => {});
      await expect(anonymous.connect().then(() => anonymous.get('x'))).rejects.toThrow(/NOAUTH/);
      anonymous.disconnect();
    }
    expect(await cluster.client.ping()).toBe('PONG');
  });

  it('computes slots as the server does, hash tags included', async () => {
    // The documented value (https://redis.io/docs/latest/commands/cluster-keyslot/).
    expect(await cluster.keySlot('somekey')).toBe(11058);
    const tagged = await Promise.all(['{site-1}:stream', '{site-1}:group', 'site-1'].map((k) => cluster.keySlot(k)));
    expect(new Set(tagged).size).toBe(1);
    expect(await cluster.keySlot('{site-2}:stream')).not.toBe(tagged[0]);
  });

  it('spreads keys over every master by their slot, through the Cluster client', async () => {
    const keys = Array.from({ length: 300 }, (_, i) => `spread:${i}`);
    await Promise.all(keys.map((k) => cluster.client.set(k, k)));
    const perMaster = new Map<string, number>();
    for (const key of keys) {
      const owner = await cluster.nodeForSlot(await cluster.keySlot(key));
      perMaster.set(owner.address, (perMaster.get(owner.address) ?? 0) + 1);
    }
    const masters = await cluster.masters();
    expect([...perMaster.keys()].sort()).toEqual(masters.map((m) => m.address).sort());
    for (const m of masters) {
      // Each master holds exactly the keys whose slots it serves.
      expect(await cluster.nodeClient(m.address).dbsize(), m.address).toBe(perMaster.get(m.address));
      expect(perMaster.get(m.address)).toBeGreaterThan(50);
    }
  });
});

describe('a Redis Cluster with a replica per master', () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await startRedisCluster({ masters: 3, replicas: 1, nodeTimeoutMs: 1000 });
  }, 60_000);
  afterAll(() => cluster?.stop());

  it('gives each master one replica, in sync', async () => {
    const nodes = await cluster.nodes();
    const masters = await cluster.masters();
    const replicas = nodes.filter((n) => n.role === 'replica');
    expect(nodes).toHaveLength(6);
    expect(replicas.map((r) => r.masterId).sort()).toEqual(masters.map((m) => m.id).sort());
    expect(cluster.seedNodes.split(',')).toHaveLength(6);
  });

  it('promotes the replica when a master is killed, and the cluster serves its slots again', async () => {
    const [victim] = await cluster.masters();
    const replica = (await cluster.nodes()).find((n) => n.masterId === victim!.id)!;
    // A key in the victim's slots, written on the victim and acknowledged by its replica.
    let key = '';
    for (let i = 0; !key; i++) if (serves(victim!, await cluster.keySlot(`failover:${i}`))) key = `failover:${i}`;
    const direct = cluster.nodeClient(victim!.address);
    await direct.set(key, 'before');
    expect(await direct.call('WAIT', '1', '2000')).toBe(1);

    const killed = await cluster.killMaster(0);
    expect(killed.id).toBe(victim!.id);
    expect(await refuses(victim!.port)).toBe(true);

    const promoted = await cluster.waitForFailover(killed);
    expect(promoted.id).toBe(replica.id);
    expect(promoted.slots).toEqual(killed.slots);
    expect((await cluster.nodeForSlot(await cluster.keySlot(key))).address).toBe(replica.address);
    expect(await cluster.masters()).toHaveLength(3);
    // The Cluster client finds the new master by itself: reads the acknowledged write, writes anew.
    expect(await eventually(() => cluster.client.get(key), 15_000, 100)).toBe('before');
    await eventually(() => cluster.client.set(key, 'after'), 15_000, 100);
    expect(await cluster.nodeClient(promoted.address).get(key)).toBe('after');
  }, 60_000);

  it('stop() kills every node and removes the folder, and may be called twice', async () => {
    const ports = cluster.startupNodes.map((n) => n.port);
    await cluster.stop();
    await cluster.stop();
    expect(existsSync(cluster.dir)).toBe(false);
    for (const port of ports) expect(await refuses(port), String(port)).toBe(true);
  });
});
