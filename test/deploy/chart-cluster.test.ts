/**
 * Growing past one Redis in the chart (issue 11): stream shards, an external Redis Cluster with TLS,
 * acknowledged writes on replicas, and KEDA scaling on every shard's lag read from ingest's /metrics.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadIngestConfig } from '@energy-pipeline/ingest';
import { loadProcessConfig } from '@energy-pipeline/process';
import { chartDir, find, helm, type Manifest, render, repoRoot } from './helm.js';
import { validateManifest } from './k8s-schemas.js';

const INGEST = 'ep-ingestion-api';
const PROCESS = 'ep-processing-service';
const SERVICES = [INGEST, PROCESS];
const KEYS = 'a'.repeat(64);

const cluster = ['--set', 'redis.internal.enabled=false', '--set', 'redis.external.cluster.nodes={10.0.0.3:6379,10.0.0.4:6379}'];
const exampleFile = join(chartDir, 'values-cluster-example.yaml');
const gkeFile = join(chartDir, 'values-gke.yaml');

type EnvVar = { name: string; value?: string; valueFrom?: Record<string, Record<string, string>> };
const spec = (ms: Manifest[], name: string) => find(ms, 'Deployment', name)['spec'].template.spec;
const env = (ms: Manifest[], name: string): EnvVar[] => spec(ms, name).containers[0].env;
const envVar = (ms: Manifest[], name: string, variable: string) => env(ms, name).find((e) => e.name === variable);
/** The plain values a container sees; "<secret:name/key>" stands for a Secret's. */
const envMap = (ms: Manifest[], name: string) =>
  Object.fromEntries(
    env(ms, name).map((e) => {
      const ref = e.valueFrom?.['secretKeyRef'];
      return [e.name, e.value ?? (ref ? `<secret:${ref['name']}/${ref['key']}>` : 'pod-name-0')];
    }),
  );
const triggers = (ms: Manifest[]) => find(ms, 'ScaledObject', PROCESS)['spec'].triggers as { type: string; name: string; metadata: Record<string, string> }[];
const redisEgress = (ms: Manifest[], name: string) =>
  find(ms, 'NetworkPolicy', name)['spec'].egress.find((r: Manifest) => r['ports']?.[0]?.port !== 53);

/**
 * Follows a KEDA metrics-api valueLocation (GJSON; only the dotted keys and array indexes the chart
 * uses) through a JSON body.
 */
const valueAt = (body: unknown, path: string): unknown =>
  path.split('.').reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], body);

/** The backlog part of ingest's GET /metrics as agreed for issue 11: one entry per shard, in order. */
const metricsBody = (lags: number[]) => ({
  stream: {},
  readings: {},
  backlog: {
    total: lags.reduce((a, b) => a + b, 0),
    shards: lags.map((lag, shard) => ({ shard, stream: `energy_readings:{s${shard}}`, lag, pending: 0 })),
  },
});

describe('stream shards', () => {
  it('sets STREAM_SHARDS on both services: 1 by default, redis.shards otherwise', async () => {
    const [one, six] = await Promise.all([render(), render(['--set', 'redis.shards=6'])]);
    for (const name of SERVICES) {
      expect(envVar(one, name, 'STREAM_SHARDS')?.value, name).toBe('1');
      expect(envVar(six, name, 'STREAM_SHARDS')?.value, name).toBe('6');
      expect(envVar(six, name, 'REDIS_STREAM')?.value, name).toBe('energy_readings');
      // Both services still start on what the chart gives them.
      const load = name === INGEST ? loadIngestConfig : loadProcessConfig;
      expect(load({ ...envMap(six, name), API_KEYS: KEYS }).redis.stream).toBe('energy_readings');
    }
  });

  it('refuses a shard count below 1 or above 64', async () => {
    await expect(render(['--set', 'redis.shards=0'])).rejects.toThrow(/redis\/shards/);
    await expect(render(['--set', 'redis.shards=65'])).rejects.toThrow(/redis\/shards/);
    await expect(render(['--set', 'redis.shards=two'])).rejects.toThrow(/redis\/shards/);
  });

  it('leaves PROCESS_SHARDS unset: every replica of the Deployment reads every shard', async () => {
    const ms = await render(['--set', 'redis.shards=6']);
    for (const name of SERVICES) expect(envVar(ms, name, 'PROCESS_SHARDS'), name).toBeUndefined();
  });
});

describe('KEDA on every shard\'s lag', () => {
  it.each([1, 6])('gives the ScaledObject one metrics-api trigger per shard on ingest\'s /metrics (%i shards)', async (shards) => {
    const ms = await render(['--set', 'process.keda.enabled=true', '--set', `redis.shards=${shards}`, '--set', 'process.keda.lagCount=800']);
    const so = find(ms, 'ScaledObject', PROCESS);
    validateManifest(so);
    expect(triggers(ms)).toEqual(
      Array.from({ length: shards }, (_, i) => ({
        type: 'metrics-api',
        name: `lag-shard-${i}`,
        metadata: {
          url: `http://${INGEST}.energy.svc:80/metrics`,
          valueLocation: `backlog.shards.${i}.lag`,
          targetValue: '800',
          activationTargetValue: '0',
        },
      })),
    );
    // Each trigger reads its own shard's lag from a body of the agreed shape.
    const lags = Array.from({ length: shards }, (_, i) => 1000 * (i + 1) + 7);
    expect(triggers(ms).map((t) => valueAt(metricsBody(lags), t.metadata['valueLocation']!))).toEqual(lags);
    // The URL names ingest's Service and port.
    const svc = find(ms, 'Service', INGEST);
    expect(triggers(ms)[0]!.metadata['url']).toBe(`http://${svc.metadata.name}.energy.svc:${svc['spec'].ports[0].port}/metrics`);
    expect(ms.filter((m) => m.kind === 'TriggerAuthentication')).toEqual([]);
  });

  it('follows ingest\'s Service port, the release namespace and the activation lag', async () => {
    const out = await helm([
      'template', 'ep', chartDir, '--namespace', 'meters',
      '--set', 'process.keda.enabled=true', '--set', 'ingest.service.port=8080',
      '--set', 'process.keda.minReplicaCount=0', '--set', 'process.keda.activationLagCount=50',
    ]);
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toContain('url: "http://ep-ingestion-api.meters.svc:8080/metrics"');
    expect(out.stdout).toContain('activationTargetValue: "50"');
  });

  it('works with every kind of Redis: a REDIS_URL Secret, a cluster, TLS (KEDA never talks to Redis)', async () => {
    for (const args of [
      ['--set', 'redis.internal.enabled=false', '--set', 'redis.external.urlSecret.name=redis-url'],
      [...cluster, '--set', 'redis.external.tls.enabled=true', '--set', 'redis.shards=3'],
    ]) {
      const ms = await render([...args, '--set', 'process.keda.enabled=true']);
      expect(triggers(ms).every((t) => t.type === 'metrics-api')).toBe(true);
    }
  });

  it('lets the KEDA operator reach ingest when ingest is closed to others, and not Redis', async () => {
    const ingestFrom = '[{"namespaceSelector":{"matchLabels":{"kubernetes.io/metadata.name":"gateways"}}}]';
    const ms = await render(['--set', 'process.keda.enabled=true', '--set-json', `networkPolicy.ingestFrom=${ingestFrom}`]);
    const keda = { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'keda' } } };
    expect(find(ms, 'NetworkPolicy', INGEST)['spec'].ingress[0].from).toContainEqual(keda);
    expect(find(ms, 'NetworkPolicy', 'ep-redis')['spec'].ingress[0].from).not.toContainEqual(keda);
    const without = await render(['--set-json', `networkPolicy.ingestFrom=${ingestFrom}`]);
    expect(find(without, 'NetworkPolicy', INGEST)['spec'].ingress[0].from).not.toContainEqual(keda);
  });
});

describe('acknowledged writes on replicas', () => {
  it('sets WRITE_REPLICAS on ingest only: 0 by default, ingest.writeReplicas otherwise', async () => {
    const [plain, waited] = await Promise.all([render(), render([...cluster, '--set', 'ingest.writeReplicas=1'])]);
    expect(envVar(plain, INGEST, 'WRITE_REPLICAS')?.value).toBe('0');
    expect(envVar(waited, INGEST, 'WRITE_REPLICAS')?.value).toBe('1');
    expect(envVar(waited, PROCESS, 'WRITE_REPLICAS')).toBeUndefined();
    expect(loadIngestConfig({ ...envMap(waited, INGEST), API_KEYS: KEYS }).port).toBe(8000);
  });

  it('refuses it on the in-chart Valkey, which has no replicas to wait for', async () => {
    await expect(render(['--set', 'ingest.writeReplicas=1'])).rejects.toThrow(/redis\/internal\/enabled/);
    await expect(render(['--skip-schema-validation', '--set', 'ingest.writeReplicas=1'])).rejects.toThrow(
      /ingest.writeReplicas needs a Redis with replicas/,
    );
    await expect(render([...cluster, '--set', 'ingest.writeReplicas=-1'])).rejects.toThrow(/writeReplicas/);
  });
});

describe('an external Redis Cluster', () => {
  it('gives both services the seed nodes in REDIS_CLUSTER_NODES and the password Secret, and no single host', async () => {
    const ms = await render([...cluster, '--set', 'redis.external.existingSecret=cluster-auth', '--set', 'redis.shards=6']);
    expect(ms.filter((m) => m.metadata.name.startsWith('ep-redis'))).toEqual([]);
    for (const name of SERVICES) {
      const vars = envMap(ms, name);
      expect(vars['REDIS_CLUSTER_NODES'], name).toBe('10.0.0.3:6379,10.0.0.4:6379');
      expect(vars['REDIS_PASSWORD'], name).toBe('<secret:cluster-auth/password>');
      expect(vars, name).not.toHaveProperty('REDIS_HOST');
      expect(vars, name).not.toHaveProperty('REDIS_PORT');
      expect(vars, name).not.toHaveProperty('REDIS_URL');
      expect(vars, name).not.toHaveProperty('REDIS_TLS');
      expect(vars['STREAM_SHARDS'], name).toBe('6');
      const load = name === INGEST ? loadIngestConfig : loadProcessConfig;
      expect(() => load({ ...vars, API_KEYS: KEYS }), name).not.toThrow();
    }
  });

  it('takes the seed nodes from a Secret instead (nodesSecret)', async () => {
    const ms = await render(['--set', 'redis.internal.enabled=false', '--set', 'redis.external.cluster.nodesSecret.name=memorystore-endpoint']);
    for (const name of SERVICES) {
      expect(envVar(ms, name, 'REDIS_CLUSTER_NODES')?.valueFrom).toEqual({ secretKeyRef: { name: 'memorystore-endpoint', key: 'nodes' } });
      expect(envVar(ms, name, 'REDIS_PASSWORD')).toBeUndefined();
    }
  });

  it('opens egress to the cluster\'s nodes on every port they may announce, within the CIDR', async () => {
    const ms = await render([...cluster, '--set', 'redis.external.cidr=10.0.0.0/24']);
    const memorystorePorts = [
      { port: 6379, protocol: 'TCP' },
      { port: 11000, endPort: 13047, protocol: 'TCP' },
    ];
    for (const name of SERVICES) {
      expect(redisEgress(ms, name), name).toEqual({ ports: memorystorePorts, to: [{ ipBlock: { cidr: '10.0.0.0/24' } }] });
    }
    const custom = await render([
      '--set', 'redis.internal.enabled=false',
      '--set', 'redis.external.cluster.nodes={10.1.0.5:7000}',
      '--set-json', 'redis.external.cluster.ports=[{"port":7000,"endPort":7005}]',
    ]);
    expect(redisEgress(custom, INGEST)).toEqual({ ports: [{ port: 7000, endPort: 7005, protocol: 'TCP' }] });
  });

  it('refuses a seed node on a port the NetworkPolicy would block', async () => {
    const args = ['--set', 'redis.internal.enabled=false', '--set', 'redis.external.cluster.nodes={10.1.0.5:7000}'];
    await expect(render(args)).rejects.toThrow(/10.1.0.5:7000 is not in redis.external.cluster.ports/);
    // Without a NetworkPolicy nothing is blocked.
    await expect(render([...args, '--set', 'networkPolicy.enabled=false'])).resolves.toBeDefined();
  });

  it('is one choice among the in-chart Valkey, a single external Redis and a cluster', async () => {
    const nodes = ['--set', 'redis.external.cluster.nodes={10.0.0.3:6379}'];
    // [values, the schema's complaint (undefined: only the template can see it), the template's]
    const cases: [string[], RegExp | undefined, RegExp][] = [
      [nodes, /redis\/internal\/enabled/, /set redis.internal.enabled=false/],
      [[...cluster, '--set', 'redis.external.host=10.0.0.9'], /redis\/external\/host/, /cluster replaces redis.external.host/],
      [[...cluster, '--set', 'redis.external.urlSecret.name=u'], /urlSecret\/name/, /cluster replaces redis.external.host and redis.external.urlSecret/],
      [[...cluster, '--set', 'redis.external.cluster.nodesSecret.name=s'], /nodesSecret\/name/, /set nodes or nodesSecret.name, not both/],
      [['--set', 'redis.external.tls.enabled=true'], /redis\/internal\/enabled/, /the in-chart Valkey has no TLS/],
      [
        [...cluster, '--set', 'redis.external.tls.caSecret.name=a', '--set', 'redis.external.tls.caConfigMap.name=b'],
        undefined,
        /set caSecret or caConfigMap, not both/,
      ],
    ];
    for (const [args, schemaError, templateError] of cases) {
      if (schemaError) await expect(render(args), args.join(' ')).rejects.toThrow(schemaError);
      await expect(render(['--skip-schema-validation', ...args]), args.join(' ')).rejects.toThrow(templateError);
    }
  });

  it('rejects malformed or unknown cluster values', async () => {
    const base = ['--set', 'redis.internal.enabled=false'];
    await expect(render([...base, '--set', 'redis.external.cluster.nodes={10.0.0.3}'])).rejects.toThrow(/cluster\/nodes\/0/);
    await expect(render([...base, '--set', 'redis.external.cluster.nodes={redis://10.0.0.3:6379}'])).rejects.toThrow(/cluster\/nodes\/0/);
    await expect(render([...base, '--set', 'redis.external.cluster.seeds={10.0.0.3:6379}'])).rejects.toThrow(/seeds/);
    await expect(render([...cluster, '--set-json', 'redis.external.cluster.ports=[]'])).rejects.toThrow(/cluster\/ports/);
    await expect(render([...cluster, '--set-json', 'redis.external.cluster.ports=[{"port":70000}]'])).rejects.toThrow(/ports\/0\/port/);
    await expect(render([...cluster, '--set', 'redis.external.tls.ca=x'])).rejects.toThrow(/tls/);
  });
});

describe('TLS to an external Redis', () => {
  it('sets REDIS_TLS and mounts the CA bundle named in NODE_EXTRA_CA_CERTS on both services', async () => {
    for (const [source, args, volume] of [
      ['Secret', ['--set', 'redis.external.tls.caSecret.name=memorystore-ca', '--set', 'redis.external.tls.caSecret.key=server-ca.pem'],
        { secret: { secretName: 'memorystore-ca', items: [{ key: 'server-ca.pem', path: 'ca.crt' }] } }],
      ['ConfigMap', ['--set', 'redis.external.tls.caConfigMap.name=memorystore-ca'],
        { configMap: { name: 'memorystore-ca', items: [{ key: 'ca.crt', path: 'ca.crt' }] } }],
    ] as const) {
      const ms = await render([...cluster, '--set', 'redis.external.tls.enabled=true', ...args]);
      for (const name of SERVICES) {
        const where = `${source}: ${name}`;
        const pod = spec(ms, name);
        expect(envVar(ms, name, 'REDIS_TLS')?.value, where).toBe('true');
        const caFile = envVar(ms, name, 'NODE_EXTRA_CA_CERTS')?.value ?? '';
        expect(pod.volumes, where).toContainEqual({ name: 'redis-ca', ...volume });
        const mount = pod.containers[0].volumeMounts.find((m: { name: string }) => m.name === 'redis-ca');
        // The file Node reads is the volume's one item (path ca.crt), where the mount puts it.
        expect(`${mount.mountPath}/ca.crt`, where).toBe(caFile);
        expect(mount.readOnly, where).toBe(true);
      }
      for (const m of ms) validateManifest(m);
    }
  });

  it('works for a single external Redis too, and adds nothing without TLS values', async () => {
    const single = await render([
      '--set', 'redis.internal.enabled=false', '--set', 'redis.external.host=10.0.0.3',
      '--set', 'redis.external.tls.enabled=true', '--set', 'redis.external.tls.caSecret.name=ca',
    ]);
    expect(envVar(single, PROCESS, 'REDIS_TLS')?.value).toBe('true');
    expect(envVar(single, PROCESS, 'REDIS_HOST')?.value).toBe('10.0.0.3');
    expect(envVar(single, PROCESS, 'NODE_EXTRA_CA_CERTS')?.value).toBe('/etc/energy-pipeline/redis-ca/ca.crt');
    const plain = await render(cluster);
    for (const name of SERVICES) {
      expect(envVar(plain, name, 'NODE_EXTRA_CA_CERTS'), name).toBeUndefined();
      expect(spec(plain, name).volumes.map((v: { name: string }) => v.name), name).toEqual(['tmp']);
    }
  });
});

describe('the 1M-device example on Memorystore for Redis Cluster (values-cluster-example.yaml)', () => {
  const layered = ['--values', gkeFile, '--values', exampleFile];

  it('lints strictly, alone and on top of values-gke.yaml', async () => {
    for (const args of [layered, ['--values', exampleFile]]) {
      const out = await helm(['lint', '--strict', chartDir, ...args]);
      expect(out.stderr + out.stdout).toContain('0 chart(s) failed');
      expect(out.code).toBe(0);
    }
  });

  it('renders schema-valid manifests: a cluster over TLS, 57 shards watched by KEDA, writes waited for on a replica, the plan\'s retention', async () => {
    const ms = await render(layered);
    for (const m of ms) validateManifest(m);
    expect(ms.filter((m) => m.metadata.name.startsWith('ep-redis'))).toEqual([]);
    for (const name of SERVICES) {
      const vars = envMap(ms, name);
      expect(vars['REDIS_CLUSTER_NODES'], name).toMatch(/^[0-9.]+:6379$/);
      expect(vars['STREAM_SHARDS'], name).toBe('57');
      expect(vars['REDIS_TLS'], name).toBe('true');
      expect(vars['NODE_EXTRA_CA_CERTS'], name).toBe('/etc/energy-pipeline/redis-ca/ca.crt');
      // values-gke.yaml's Memorystore AUTH Secret does not follow it onto the cluster.
      expect(vars, name).not.toHaveProperty('REDIS_PASSWORD');
      expect(vars, name).not.toHaveProperty('REDIS_HOST');
      expect(redisEgress(ms, name).ports.map((p: { port: number }) => p.port), name).toEqual([6379, 11000]);
    }
    expect(envMap(ms, INGEST)['WRITE_REPLICAS']).toBe('1');
    // Whole numbers reach the services as integers, not 6e+06.
    expect(envMap(ms, INGEST)['MAX_BACKLOG']).toBe('6000000');
    expect(loadIngestConfig({ ...envMap(ms, INGEST), API_KEYS: KEYS }).limits.maxBacklog).toBe(6_000_000);
    expect(triggers(ms)).toHaveLength(57);
    expect(triggers(ms).map((t) => t.metadata['valueLocation'])).toEqual(Array.from({ length: 57 }, (_, i) => `backlog.shards.${i}.lag`));
    // docs/capacity.md, A4: the default retention would need 8 TB.
    expect(envMap(ms, PROCESS)['MINUTE_RETENTION_S']).toBe('86400');
    expect(envMap(ms, PROCESS)['HOUR_RETENTION_S']).toBe(String(35 * 86_400));
    const so = find(ms, 'ScaledObject', PROCESS)['spec'];
    expect(so.minReplicaCount).toBeLessThanOrEqual(so.maxReplicaCount);
    // Still GKE: Cloud DNS egress, Managed Prometheus, the chart's API key list.
    expect(ms.some((m) => m.kind === 'PodMonitoring')).toBe(true);
  });

  it('keeps the arithmetic of docs/capacity.md: primaries, shards, pods, lag per shard, backlog', () => {
    const text = readFileSync(exampleFile, 'utf8');
    const values = parse(text);
    const capacity = readFileSync(join(repoRoot, 'docs/capacity.md'), 'utf8');
    // Measured (docs/capacity.md): µs per reading on one node with entries of 10 readings, and the cluster's factors.
    const us = { redis: 220.9, ingest: 108.4, processor: 89.0 };
    const cluster = { redis: 1.27, ingest: 1.11, processor: 2.43 };
    for (const figure of ['**220.9**', '108.4', '89.0', '**1.27**', '2.43', '1.11']) expect(capacity).toContain(figure);
    const readingsPerS = 1_000_000 / 10; // A1
    const perEntry = 10; // A2
    const primaries = Math.ceil((readingsPerS * us.redis * cluster.redis) / 1e6 / 0.5); // A5
    expect(primaries).toBe(57);
    expect(text).toContain(`--shard-count ${primaries} `);
    expect(values.redis.shards).toBe(primaries); // one per primary
    const processorUs = us.processor * cluster.processor;
    const pods = Math.ceil((readingsPerS * processorUs) / 1e6 / 0.7); // A7
    expect(values.process.keda.minReplicaCount).toBe(pods);
    expect(values.process.keda.maxReplicaCount).toBe(2 * pods);
    // 30 s of a pod's work, in entries, per shard.
    expect(values.process.keda.lagCount).toBe(Math.round(((1e6 / processorUs) * 30) / perEntry / values.redis.shards));
    const ingestPods = Math.ceil((readingsPerS * us.ingest * cluster.ingest) / 1e6 / 0.7);
    expect(ingestPods).toBe(18);
    expect(values.ingest.autoscaling.minReplicas).toBeLessThanOrEqual(ingestPods);
    expect(values.ingest.autoscaling.maxReplicas).toBeGreaterThanOrEqual(2 * ingestPods);
    expect(values.ingest.env.MAX_BACKLOG).toBe((readingsPerS / perEntry) * 600); // 10 minutes, in entries
  });
});
