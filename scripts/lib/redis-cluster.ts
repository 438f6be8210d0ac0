/**
 * A private Redis Cluster for one test file: real redis-server processes in cluster mode on free
 * ports, joined by `redis-cli --cluster create`. Never the shared Redis on 6379.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Cluster, Redis } from 'ioredis';
import { type ClusterNode, covers, isFailing, parseClusterNodes, parseInfo, SLOT_COUNT } from './cluster-nodes.js';
import { eventually, freePort } from './redis-server.js';

export type { ClusterNode, SlotRange } from './cluster-nodes.js';

const run = promisify(execFile);
const HOST = '127.0.0.1';

export interface TestClusterOptions {
  /** Masters; redis-cli gives each an equal share of the 16384 slots. @default 3 */
  masters?: number;
  /** Replicas per master (`--cluster-replicas`). @default 0 */
  replicas?: number;
  /**
   * cluster-node-timeout: how long a master may be unreachable before the others mark it failed
   * and its replica takes over. Low values (e.g. 1000) make failover tests quick. @default 5000
   */
  nodeTimeoutMs?: number;
  /** requirepass and masterauth on every node; the helper's own clients use it too. @default undefined (none) */
  password?: string;
  /** Persist every write before answering (appendonly, appendfsync always). @default false */
  appendonly?: boolean;
  /** More redis-server arguments for every node. @default [] */
  args?: string[];
  /** Bound on forming the cluster (start, create, every node agreeing, replicas in sync). @default 25000 */
  readyTimeoutMs?: number;
}

export interface TestCluster {
  /** Every node's host:port (masters and replicas), comma-separated: a REDIS_CLUSTER_NODES value. */
  seedNodes: string;
  /** The same nodes, as ioredis' Cluster takes them. */
  startupNodes: { host: string; port: number }[];
  /** The folder holding every node's data, config and log; removed by stop(). */
  dir: string;
  /** An ioredis Cluster client for assertions; closed by stop(). */
  client: Cluster;
  /** Every node the cluster knows, as a live node sees it (CLUSTER NODES). */
  nodes(): Promise<ClusterNode[]>;
  /** Masters serving slots and not believed down, ordered by their first slot (so index 0 serves slot 0). */
  masters(): Promise<ClusterNode[]>;
  /** The master serving `slot` now. */
  nodeForSlot(slot: number): Promise<ClusterNode>;
  /** The hash slot of `key`, as the server computes it (CLUSTER KEYSLOT), hash tags included. */
  keySlot(key: string): Promise<number>;
  /** A plain (non-cluster) connection to one node by host:port, e.g. for INFO, DBSIZE or WAIT; closed by stop(). */
  nodeClient(address: string): Redis;
  /** SIGKILLs the i-th master of masters(), as a crash would; resolves with that master as it was. */
  killMaster(i: number): Promise<ClusterNode>;
  /**
   * Waits until every live node reports cluster_state:ok and serves all of `killed`'s slots from
   * a live master (its promoted replica); resolves with that master.
   * @param timeoutMs @default 30000
   */
  waitForFailover(killed: ClusterNode, timeoutMs?: number): Promise<ClusterNode>;
  /**
   * Starts a killed node again on its port, data folder and nodes.conf, as Kubernetes restarts a
   * pod; resolves once the cluster sees it as a connected replica (a failed-over master comes back
   * as its successor's replica), in sync.
   * @param timeoutMs @default 30000
   */
  restartNode(killed: ClusterNode, timeoutMs?: number): Promise<void>;
  /** Kills every node and removes the folder; safe to call twice. */
  stop(): Promise<void>;
}

interface NodeProcess {
  address: string;
  port: number;
  dir: string;
  /** redis-server's arguments, to start it again the same way (restartNode). */
  args: string[];
  child: ChildProcess;
  admin: Redis | undefined;
  killed: boolean;
}

// Whatever happens to a test, no redis-server outlives the test process.
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

async function waitForExit(child: ChildProcess) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise((resolve) => child.once('exit', resolve));
}

const logTail = (dir: string) => {
  const file = join(dir, 'redis.log');
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').slice(-8).join('\n') : '(no log)';
};

function spawnNode(args: string[]): ChildProcess {
  const child = spawn('redis-server', args, { stdio: 'ignore' });
  running.add(child);
  child.once('exit', () => running.delete(child));
  return child;
}

async function untilAnswering(node: NodeProcess, options: TestClusterOptions) {
  await eventually(async () => {
    if (node.child.exitCode !== null) throw new Error('exited');
    const probe = new Redis({ port: node.port, host: HOST, password: options.password, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => {});
    try {
      await probe.connect();
      return (await probe.ping()) === 'PONG';
    } finally {
      probe.disconnect();
    }
  }, 10_000);
}

/** Starts one cluster-enabled node; a port taken in the meantime is retried with new ones. */
async function startNode(root: string, index: number, options: TestClusterOptions): Promise<NodeProcess> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    // The bus port is set explicitly: the default (port + 10000) may not exist for a high free port.
    const busPort = await freePort();
    const dir = join(root, `node-${index}-${attempt}`);
    mkdirSync(dir);
    const args = [
      '--port', String(port), '--bind', HOST, '--dir', dir, '--logfile', join(dir, 'redis.log'),
      '--cluster-enabled', 'yes', '--cluster-port', String(busPort), '--cluster-config-file', 'nodes.conf',
      '--cluster-node-timeout', String(options.nodeTimeoutMs ?? 5000),
      '--save', '', '--appendonly', options.appendonly ? 'yes' : 'no', '--appendfsync', 'always',
      '--loglevel', 'notice', '--daemonize', 'no',
      ...(options.password ? ['--requirepass', options.password, '--masterauth', options.password] : []),
      ...(options.args ?? []),
    ];
    const node: NodeProcess = { address: `${HOST}:${port}`, port, dir, args, child: spawnNode(args), admin: undefined, killed: false };
    try {
      await untilAnswering(node, options);
      return node;
    } catch (err) {
      node.child.kill('SIGKILL');
      await waitForExit(node.child);
      if (attempt >= 3) throw new Error(`redis-server on ${port} did not start (${(err as Error).message}):\n${logTail(dir)}`);
    }
  }
}

export async function startRedisCluster(options: TestClusterOptions = {}): Promise<TestCluster> {
  const masterCount = options.masters ?? 3;
  const replicas = options.replicas ?? 0;
  // redis-cli refuses fewer than 3 masters.
  if (masterCount < 3) throw new Error('a Redis Cluster needs at least 3 masters');
  const root = mkdtempSync(join(tmpdir(), 'ep-redis-cluster-'));
  const procs: NodeProcess[] = [];
  let stopped = false;

  const connect = (port: number) => {
    const c = new Redis({ port, host: HOST, password: options.password, maxRetriesPerRequest: 1, retryStrategy: (n) => Math.min(n * 50, 500) });
    c.on('error', () => {});
    return c;
  };
  const admin = (p: NodeProcess) => (p.admin ??= connect(p.port));
  const live = () => procs.filter((p) => !p.killed);
  const viewOf = async (p: NodeProcess) => parseClusterNodes(String(await admin(p).call('CLUSTER', 'NODES')));
  /** Asks live nodes in turn, so that one node being slow or gone does not fail the question. */
  const ask = async <T>(question: (p: NodeProcess) => Promise<T>): Promise<T> => {
    let last: unknown = new Error('no live node');
    for (const p of live()) {
      try {
        return await question(p);
      } catch (err) {
        last = err;
      }
    }
    throw last;
  };
  const servingMasters = (view: ClusterNode[]) =>
    view
      .filter((n) => n.role === 'master' && n.slots.length > 0 && !isFailing(n))
      .sort((a, b) => (a.slots[0]?.[0] ?? 0) - (b.slots[0]?.[0] ?? 0));

  let client: Cluster | undefined;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    client?.disconnect();
    for (const p of procs) p.admin?.disconnect();
    for (const p of procs) p.child.kill('SIGKILL');
    await Promise.all(procs.map((p) => waitForExit(p.child)));
    rmSync(root, { recursive: true, force: true });
  };

  try {
    for (let i = 0; i < masterCount * (1 + replicas); i++) procs.push(await startNode(root, i, options));
    const env = { PATH: process.env['PATH'] ?? '', ...(options.password ? { REDISCLI_AUTH: options.password } : {}) };
    await run('redis-cli', ['--cluster', 'create', ...procs.map((p) => p.address), '--cluster-replicas', String(replicas), '--cluster-yes'], {
      env,
      timeout: 30_000,
    }).catch((err: { stdout?: string; stderr?: string; message: string }) => {
      throw new Error(`redis-cli --cluster create failed: ${err.message}\n${err.stdout ?? ''}${err.stderr ?? ''}`);
    });
    await eventually(async () => {
      for (const p of procs) {
        const info = parseInfo(String(await admin(p).call('CLUSTER', 'INFO')));
        if (info['cluster_state'] !== 'ok' || info['cluster_slots_ok'] !== String(SLOT_COUNT)) return false;
        if (info['cluster_known_nodes'] !== String(procs.length)) return false;
        const view = await viewOf(p);
        if (view.some((n) => isFailing(n) || n.flags.includes('handshake') || n.flags.includes('noaddr'))) return false;
        if (servingMasters(view).length !== masterCount) return false;
        const me = view.find((n) => n.flags.includes('myself'));
        if (me?.role === 'replica') {
          // A replica that has not synced cannot take over: failover tests need it in sync first.
          const repl = parseInfo(await admin(p).info('replication'));
          if (repl['master_link_status'] !== 'up' || repl['master_sync_in_progress'] !== '0') return false;
        }
      }
      return true;
    }, options.readyTimeoutMs ?? 25_000, 100);
  } catch (err) {
    await stop();
    throw err;
  }

  const startupNodes = procs.map((p) => ({ host: HOST, port: p.port }));
  client = new Cluster(startupNodes, {
    redisOptions: { password: options.password, maxRetriesPerRequest: 1 },
    clusterRetryStrategy: (times) => Math.min(times * 100, 1000),
    retryDelayOnFailover: 100,
    retryDelayOnClusterDown: 100,
    slotsRefreshTimeout: 2000,
  });
  client.on('error', () => {});
  const nodeClients = new Map<string, Redis>();

  const cluster: TestCluster = {
    seedNodes: procs.map((p) => p.address).join(','),
    startupNodes,
    dir: root,
    client,
    nodes: () => ask(viewOf),
    masters: async () => servingMasters(await ask(viewOf)),
    async nodeForSlot(slot) {
      const master = (await cluster.masters()).find((m) => m.slots.some(([a, b]) => a <= slot && slot <= b));
      if (!master) throw new Error(`no live master serves slot ${slot}`);
      return master;
    },
    keySlot: async (key) => Number(await ask((p) => admin(p).call('CLUSTER', 'KEYSLOT', key))),
    nodeClient(address) {
      const p = procs.find((x) => x.address === address);
      if (!p) throw new Error(`${address} is not a node of this cluster (${cluster.seedNodes})`);
      let c = nodeClients.get(address);
      if (!c) {
        c = connect(p.port);
        nodeClients.set(address, c);
      }
      return c;
    },
    async killMaster(i) {
      const masters = await cluster.masters();
      const target = masters[i];
      if (!target) throw new Error(`no master ${i}: the cluster has ${masters.length}`);
      const p = procs.find((x) => x.address === target.address);
      if (!p || p.killed) throw new Error(`master ${target.address} is not a live node of this cluster`);
      p.killed = true;
      p.admin?.disconnect();
      p.child.kill('SIGKILL');
      await waitForExit(p.child);
      return target;
    },
    async waitForFailover(killed, timeoutMs = 30_000) {
      return eventually(
        async () => {
          let promoted: ClusterNode | undefined;
          for (const p of live()) {
            const info = parseInfo(String(await admin(p).call('CLUSTER', 'INFO')));
            if (info['cluster_state'] !== 'ok') return undefined;
            const view = await viewOf(p);
            const master = servingMasters(view).find((m) => m.id !== killed.id && covers(m.slots, killed.slots));
            if (!master || !live().some((x) => x.address === master.address)) return undefined;
            promoted = master;
          }
          return promoted;
        },
        timeoutMs,
        100,
      );
    },
    async restartNode(killed, timeoutMs = 30_000) {
      const p = procs.find((x) => x.address === killed.address);
      if (!p?.killed) throw new Error(`${killed.address} is not a killed node of this cluster`);
      p.child = spawnNode(p.args);
      p.admin = undefined; // killMaster closed the old one
      await untilAnswering(p, options);
      p.killed = false;
      await eventually(
        async () => {
          const info = parseInfo(String(await admin(p).call('INFO', 'replication')));
          return info['role'] === 'slave' && info['master_link_status'] === 'up';
        },
        timeoutMs,
        100,
      );
    },
    async stop() {
      for (const c of nodeClients.values()) c.disconnect();
      await stop();
    },
  };
  return cluster;
}
