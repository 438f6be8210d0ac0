import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { findKey, parseApiKeys } from '@energy-pipeline/server-kit';
import { loadIngestConfig } from '@energy-pipeline/ingest';
import { loadProcessConfig } from '@energy-pipeline/process';
import { chartDir, find, helm, type Manifest, render } from './helm.js';
import { validateManifest } from './k8s-schemas.js';

const INGEST = 'ep-ingestion-api';
const PROCESS = 'ep-processing-service';

/** The value sets CI renders; each must lint cleanly and produce schema-valid manifests. */
const valueSets: Record<string, string[]> = {
  default: [],
  'external redis': [
    '--set', 'redis.internal.enabled=false',
    '--set', 'redis.external.host=10.0.0.3',
    '--set', 'redis.external.existingSecret=memorystore-auth',
    '--set', 'redis.external.cidr=10.0.0.0/29',
  ],
  'external redis url': ['--set', 'redis.internal.enabled=false', '--set', 'redis.external.urlSecret.name=redis-url'],
  keda: ['--set', 'process.keda.enabled=true'],
  'autoscaling off': ['--set', 'ingest.autoscaling.enabled=false'],
  'process hpa': ['--set', 'process.autoscaling.enabled=true'],
  gke: ['--values', join(chartDir, 'values-gke.yaml'), '--set', 'redis.external.host=10.0.0.3', '--set', 'redis.external.cidr=10.0.0.0/29'],
  'monitoring and auth': [
    '--set', 'metrics.serviceMonitor.enabled=true',
    '--set', 'metrics.podMonitoring.enabled=true',
    '--set', 'auth.apiKeys.existingSecret=ingest-api-keys',
    '--set', 'tests.apiKeySecret.name=ingest-test-key',
    '--set-json', 'networkPolicy.ingestFrom=[{"namespaceSelector":{"matchLabels":{"kubernetes.io/metadata.name":"gateways"}}}]',
    '--set', 'ingest.env.BATCH_MAX_READINGS=500',
    '--set-json', 'process.extraEnv=[{"name":"READ_COUNT","value":"50"}]',
  ],
  'redis cluster': [
    '--set', 'redis.internal.enabled=false',
    '--set', 'redis.external.cluster.nodes={10.0.0.3:6379}',
    '--set', 'redis.external.existingSecret=cluster-auth',
    '--set', 'redis.external.tls.enabled=true',
    '--set', 'redis.external.tls.caSecret.name=cluster-ca',
    '--set', 'redis.external.cidr=10.0.0.0/24',
    '--set', 'redis.shards=6',
    '--set', 'ingest.writeReplicas=1',
    '--set', 'process.keda.enabled=true',
  ],
  'cluster example': ['--values', join(chartDir, 'values-gke.yaml'), '--values', join(chartDir, 'values-cluster-example.yaml')],
  'tls and own secrets': [
    '--set', 'auth.apiKeys.existingSecret=api-keys',
    '--set', 'redis.internal.existingSecret=valkey-auth',
    '--set', 'tests.apiKeySecret.name=test-keys',
    '--set', 'ingest.ingress.enabled=true',
    '--set', 'ingest.ingress.className=nginx',
    '--set', 'ingest.ingress.hosts={ingest.example.com}',
    '--set', 'ingest.ingress.annotations.cert-manager\\.io/cluster-issuer=letsencrypt',
    '--set-json', 'ingest.ingress.tls=[{"secretName":"ingest-tls","hosts":["ingest.example.com"]}]',
    '--set', 'ingest.httpRoute.enabled=true',
    '--set-json', 'ingest.httpRoute.parentRefs=[{"name":"external","namespace":"gateways","sectionName":"https"}]',
    '--set', 'ingest.httpRoute.hostnames={ingest.example.com}',
    '--set-json', 'networkPolicy.dnsTo=[{"ipBlock":{"cidr":"169.254.20.10/32"}}]',
  ],
};

const rendered: Record<string, Manifest[]> = {};
beforeAll(async () => {
  await Promise.all(Object.entries(valueSets).map(async ([name, args]) => (rendered[name] = await render(args))));
});

const deployment = (set: string, name: string) => find(rendered[set]!, 'Deployment', name);
const container = (m: Manifest) => m['spec'].template.spec.containers[0];
const envOf = (m: Manifest): { name: string; value?: string; valueFrom?: Record<string, Record<string, string>> }[] =>
  container(m).env;
const envVar = (m: Manifest, name: string) => envOf(m).find((e) => e.name === name);
/** What the container would see, with "<secret:name/key>" standing for secret values. */
const envMap = (m: Manifest) =>
  Object.fromEntries(
    envOf(m).map((e) => {
      const ref = e.valueFrom?.['secretKeyRef'];
      return [e.name, e.value ?? (ref ? `<secret:${ref['name']}/${ref['key']}>` : 'pod-name-0')];
    }),
  );
const podTemplates = (ms: Manifest[]) =>
  ms.flatMap((m) => (m.kind === 'Pod' ? [{ name: m.metadata.name, spec: m['spec'] }] : m['spec']?.template ? [{ name: m.metadata.name, spec: m['spec'].template.spec }] : []));

describe('helm chart', () => {
  it.each(Object.entries(valueSets))('lints strictly with the %s values', async (_name, args) => {
    const out = await helm(['lint', '--strict', chartDir, ...args]);
    expect(out.stderr + out.stdout).toContain('0 chart(s) failed');
    expect(out.code).toBe(0);
  });

  it('renders manifests that validate against the Kubernetes schemas, for every value set', () => {
    for (const [name, manifests] of Object.entries(rendered)) {
      expect(manifests.length, name).toBeGreaterThan(5);
      for (const m of manifests) validateManifest(m);
    }
  });

  it('names and ports the services as the seed did: <release>-ingestion-api / -processing-service on port 80', () => {
    const ms = rendered['default']!;
    for (const [name, port] of [[INGEST, 8000], [PROCESS, 8001]] as const) {
      const svc = find(ms, 'Service', name);
      expect(svc['spec'].ports).toEqual([{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }]);
      const c = container(deployment('default', name));
      expect(c.ports).toEqual([{ name: 'http', containerPort: port, protocol: 'TCP' }]);
      expect(envVar(deployment('default', name), 'PORT')?.value).toBe(String(port));
      expect(svc['spec'].selector).toEqual(deployment('default', name)['spec'].selector.matchLabels);
      expect(find(ms, 'PodDisruptionBudget', name)['spec'].maxUnavailable).toBe(1);
    }
  });

  it('gives each probe its own meaning: started = listening, ready = /health, alive = answers even while Redis is down', () => {
    const liveness = readFileSync(join(chartDir, 'files/liveness.js'), 'utf8').replace(/^\/\/.*\n/gm, '');
    for (const name of [INGEST, PROCESS]) {
      const c = container(deployment('default', name));
      expect(c.startupProbe.tcpSocket).toEqual({ port: 'http' });
      expect(c.readinessProbe.httpGet).toEqual({ path: '/health', port: 'http' });
      expect(c.livenessProbe.httpGet).toBeUndefined();
      expect(c.livenessProbe.exec.command).toEqual(['node', '-e', liveness, '4000']);
      expect(c.livenessProbe.timeoutSeconds * 1000).toBeGreaterThan(4000);
    }
  });

  it('gives pods longer to stop than the services take to drain', () => {
    const ingest = deployment('default', INGEST)['spec'].template.spec;
    expect(container(deployment('default', INGEST)).lifecycle.preStop.sleep.seconds).toBe(5);
    expect(ingest.terminationGracePeriodSeconds).toBeGreaterThan(5 + 10);
    const processSpec = deployment('default', PROCESS)['spec'].template.spec;
    expect(processSpec.terminationGracePeriodSeconds).toBeGreaterThan(10);
  });

  it('runs every pod under the restricted security context with a writable /tmp only', () => {
    for (const [set, manifests] of Object.entries(rendered)) {
      for (const { name, spec } of podTemplates(manifests)) {
        const where = `${set}: ${name}`;
        expect(spec.securityContext.runAsNonRoot, where).toBe(true);
        expect(spec.securityContext.seccompProfile, where).toEqual({ type: 'RuntimeDefault' });
        expect(spec.automountServiceAccountToken, where).toBe(false);
        for (const c of spec.containers) {
          expect(c.securityContext, where).toMatchObject({
            allowPrivilegeEscalation: false,
            readOnlyRootFilesystem: true,
            runAsNonRoot: true,
            capabilities: { drop: ['ALL'] },
            seccompProfile: { type: 'RuntimeDefault' },
          });
          expect(c.resources?.requests, where).toBeDefined();
        }
      }
    }
    const volumes = deployment('default', INGEST)['spec'].template.spec.volumes;
    expect(volumes).toContainEqual({ name: 'tmp', emptyDir: { sizeLimit: '64Mi' } });
  });

  it('wires the environment so that both services parse it into the intended Redis and names', () => {
    // The generated keys' Secret holds real hashes; stand one in for the Secret reference.
    const ingest = loadIngestConfig({ ...envMap(deployment('default', INGEST)), API_KEYS: 'a'.repeat(64) });
    expect(ingest.port).toBe(8000);
    expect(ingest.redis.url).toBe('redis://:%3Csecret%3Aep-redis-auth%2Fpassword%3E@ep-redis:6379');
    expect(ingest.redis.stream).toBe('energy_readings');
    expect(ingest.redis.allowEviction).toBe(false);
    const proc = loadProcessConfig({ ...envMap(deployment('default', PROCESS)), API_KEYS: 'a'.repeat(64) });
    expect(proc.port).toBe(8001);
    expect(proc.consumer.group).toBe('processing_group');
    expect(envVar(deployment('default', PROCESS), 'CONSUMER_NAME')?.valueFrom).toEqual({ fieldRef: { fieldPath: 'metadata.name' } });
    expect(envVar(deployment('default', INGEST), 'CONSUMER_NAME')).toBeUndefined();
    expect(envVar(deployment('default', INGEST), 'AUTH_DISABLED')).toBeUndefined();
  });

  it('generates a write key and an operator key when none are given: one key list for both services, used by helm test', async () => {
    const keysRef = { secretKeyRef: { name: 'ep-ingest-api-key', key: 'api-keys' } };
    expect(envVar(deployment('default', INGEST), 'API_KEYS')?.valueFrom).toEqual(keysRef);
    expect(envVar(deployment('default', PROCESS), 'API_KEYS')?.valueFrom).toEqual(keysRef);
    const secret = find(rendered['default']!, 'Secret', 'ep-ingest-api-key');
    const plain = (key: string) => Buffer.from(secret['data'][key], 'base64').toString();
    const token = plain('token');
    const operator = plain('operator-token');
    expect(token).toMatch(/^[A-Za-z0-9]{40}$/);
    expect(operator).toMatch(/^[A-Za-z0-9]{40}$/);
    expect(operator).not.toBe(token);
    // The services are given only the keys' SHA-256 hashes, each with its scopes (the shared key
    // format: <sha256>[@scope,…][:site,…], `#` comments): today's device key keeps scope write.
    const sha = (t: string) => createHash('sha256').update(t).digest('hex');
    const entries = plain('api-keys')
      .split('\n')
      .map((line) => line.replace(/#.*/, '').trim())
      .filter(Boolean);
    expect(entries).toEqual([`${sha(token)}@write`, `${sha(operator)}@read,admin`]);
    // What both services make of it: the parser they start with accepts it, and each token finds its key.
    const keys = parseApiKeys(plain('api-keys'));
    if (typeof keys === 'string') throw new Error(keys);
    expect(findKey(keys, token)?.scopes).toEqual(new Set(['write']));
    expect(findKey(keys, operator)?.scopes).toEqual(new Set(['read', 'admin']));
    // helm test posts with the write key and reads back with the operator key.
    const smoke = find(rendered['default']!, 'Pod', 'ep-smoke-test')['spec'].containers[0].env;
    expect(smoke).toContainEqual({ name: 'API_KEY', valueFrom: { secretKeyRef: { name: 'ep-ingest-api-key', key: 'token' } } });
    expect(smoke).toContainEqual({ name: 'READ_API_KEY', valueFrom: { secretKeyRef: { name: 'ep-ingest-api-key', key: 'operator-token' } } });
    // Bringing keys, or turning auth off, means no generated keys.
    expect(rendered['monitoring and auth']!.some((m) => m.kind === 'Secret' && m.metadata.name === 'ep-ingest-api-key')).toBe(false);
    const off = await render(['--set', 'auth.disabled=true']);
    expect(off.some((m) => m.kind === 'Secret' && m.metadata.name === 'ep-ingest-api-key')).toBe(false);
    for (const name of [INGEST, PROCESS]) expect(envVar(find(off, 'Deployment', name), 'API_KEYS')).toBeUndefined();
    expect(find(off, 'Pod', 'ep-smoke-test')['spec'].containers[0].env.map((e: { name: string }) => e.name)).not.toContain('API_KEY');
  });

  it('configures the live side from process.live, with the processor\'s own defaults', async () => {
    const env = (m: Manifest) => ({ ...envMap(m), API_KEYS: 'd'.repeat(64) });
    const defaults = loadProcessConfig(env(deployment('default', PROCESS)));
    const unset = loadProcessConfig({ ...env(deployment('default', PROCESS)), ...Object.fromEntries(Object.keys(envMap(deployment('default', PROCESS))).filter((k) => k.startsWith('LIVE_')).map((k) => [k, undefined])) });
    expect(defaults.live).toEqual(unset.live);
    expect(defaults.consumer.liveRetentionS).toBe(unset.consumer.liveRetentionS);
    const set = await render(['--set', 'process.live.retentionS=900', '--set-json', 'process.live.quietFactor=2.5']);
    const proc = loadProcessConfig(env(find(set, 'Deployment', PROCESS)));
    expect(proc.consumer.liveRetentionS).toBe(900);
    expect(proc.live.quiet.factor).toBe(2.5);
    expect(envVar(find(set, 'Deployment', INGEST), 'LIVE_RETENTION_S')).toBeUndefined();
    const bad = await helm(['template', 'ep', chartDir, '--set', 'process.live.intervalMs=10']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('intervalMs');
  });

  it('passes API keys, plain settings and extra env through to the right service', () => {
    const keysRef = { secretKeyRef: { name: 'ingest-api-keys', key: 'api-keys' } };
    const ingest = deployment('monitoring and auth', INGEST);
    expect(envVar(ingest, 'API_KEYS')?.valueFrom).toEqual(keysRef);
    expect(loadIngestConfig({ ...envMap(ingest), API_KEYS: 'b'.repeat(64) }).batchMaxReadings).toBe(500);
    const proc = deployment('monitoring and auth', PROCESS);
    expect(envVar(proc, 'API_KEYS')?.valueFrom).toEqual(keysRef);
    expect(loadProcessConfig({ ...envMap(proc), API_KEYS: 'b'.repeat(64) }).consumer.readCount).toBe(50);
    const smoke = find(rendered['monitoring and auth']!, 'Pod', 'ep-smoke-test')['spec'].containers[0].env;
    expect(smoke).toContainEqual({ name: 'API_KEY', valueFrom: { secretKeyRef: { name: 'ingest-test-key', key: 'api-key' } } });
    // The read key may be missing from the test's Secret: then the one key does both.
    expect(smoke).toContainEqual({
      name: 'READ_API_KEY',
      valueFrom: { secretKeyRef: { name: 'ingest-test-key', key: 'read-key', optional: true } },
    });
  });

  it('sets AUTH_DISABLED only when asked to, on both services', async () => {
    const ms = await render(['--set', 'auth.disabled=true']);
    for (const name of [INGEST, PROCESS]) {
      expect(envVar(find(ms, 'Deployment', name), 'AUTH_DISABLED')?.value).toBe('true');
      expect(envVar(deployment('default', name), 'AUTH_DISABLED')).toBeUndefined();
    }
  });

  it('sets ALLOW_EVICTION on both services only when redis.allowEviction is true', async () => {
    const ms = await render(['--set', 'redis.allowEviction=true']);
    for (const name of [INGEST, PROCESS]) {
      expect(envVar(deployment('default', name), 'ALLOW_EVICTION')).toBeUndefined();
      const env = { ...envMap(find(ms, 'Deployment', name)), API_KEYS: 'a'.repeat(64) };
      const config = name === INGEST ? loadIngestConfig(env) : loadProcessConfig(env);
      expect(config.redis.allowEviction, name).toBe(true);
    }
  });

  it('runs an in-chart Valkey that fsyncs every write, on a PVC, reachable only from the services', () => {
    const ms = rendered['default']!;
    const sts = find(ms, 'StatefulSet', 'ep-redis');
    const c = sts['spec'].template.spec.containers[0];
    expect(c.image).toMatch(/^valkey\/valkey:/);
    const args: string[] = c.args;
    expect(args.slice(args.indexOf('--appendonly'), args.indexOf('--appendonly') + 2)).toEqual(['--appendonly', 'yes']);
    expect(args.slice(args.indexOf('--appendfsync'), args.indexOf('--appendfsync') + 2)).toEqual(['--appendfsync', 'always']);
    expect(c.volumeMounts).toContainEqual({ name: 'data', mountPath: '/data' });
    expect(sts['spec'].volumeClaimTemplates[0].spec.resources.requests.storage).toBe('2Gi');
    expect(find(ms, 'Secret', 'ep-redis-auth')['data'].password).toMatch(/^[A-Za-z0-9+/=]{40,}$/);
    const from = find(ms, 'NetworkPolicy', 'ep-redis')['spec'].ingress[0].from;
    expect(from.map((p: Manifest) => p['podSelector'].matchLabels['app.kubernetes.io/component'])).toEqual(['ingest', 'process']);
  });

  it('uses an external Redis instead, by host and password Secret or by a whole REDIS_URL', () => {
    const ext = rendered['external redis']!;
    expect(ext.filter((m) => m.metadata.name.startsWith('ep-redis'))).toEqual([]);
    const env = envMap(find(ext, 'Deployment', PROCESS));
    expect(loadProcessConfig({ ...env, API_KEYS: 'c'.repeat(64) }).redis.url).toBe('redis://:%3Csecret%3Amemorystore-auth%2Fpassword%3E@10.0.0.3:6379');
    const egress = find(ext, 'NetworkPolicy', INGEST)['spec'].egress;
    expect(egress).toContainEqual({ ports: [{ port: 6379, protocol: 'TCP' }], to: [{ ipBlock: { cidr: '10.0.0.0/29' } }] });

    const url = find(rendered['external redis url']!, 'Deployment', INGEST);
    expect(envVar(url, 'REDIS_URL')?.valueFrom).toEqual({ secretKeyRef: { name: 'redis-url', key: 'url' } });
    expect(envVar(url, 'REDIS_HOST')).toBeUndefined();
  });

  it('refuses contradictory or missing Redis settings with a message naming them', async () => {
    await expect(render(['--set', 'redis.external.host=10.0.0.3'])).rejects.toThrow(/redis.internal.enabled=false/);
    await expect(render(['--set', 'redis.internal.enabled=false'])).rejects.toThrow(/no Redis configured/);
  });

  it('leaves the replica count to the autoscaler whenever one owns it', () => {
    const spec = (set: string, name: string) => deployment(set, name)['spec'];
    const has = (set: string, kind: string, name: string) => rendered[set]!.some((m) => m.kind === kind && m.metadata.name === name);
    // default: ingest on an HPA, processor fixed
    expect(spec('default', INGEST)).not.toHaveProperty('replicas');
    expect(has('default', 'HorizontalPodAutoscaler', INGEST)).toBe(true);
    expect(spec('default', PROCESS).replicas).toBe(2);
    expect(has('default', 'ScaledObject', PROCESS)).toBe(false);
    // autoscaling off: fixed replicas, no HPA
    expect(spec('autoscaling off', INGEST).replicas).toBe(2);
    expect(has('autoscaling off', 'HorizontalPodAutoscaler', INGEST)).toBe(false);
    // KEDA: a ScaledObject and neither replicas nor an HPA
    expect(spec('keda', PROCESS)).not.toHaveProperty('replicas');
    expect(has('keda', 'HorizontalPodAutoscaler', PROCESS)).toBe(false);
    // process HPA: an HPA and neither replicas nor a ScaledObject
    expect(spec('process hpa', PROCESS)).not.toHaveProperty('replicas');
    expect(has('process hpa', 'HorizontalPodAutoscaler', PROCESS)).toBe(true);
    expect(has('process hpa', 'ScaledObject', PROCESS)).toBe(false);
  });

  it('scales the processor with KEDA on the consumer group lag read from ingest\'s /metrics, needing no access to Redis', () => {
    const ms = rendered['keda']!;
    const so = find(ms, 'ScaledObject', PROCESS);
    expect(so['spec'].scaleTargetRef).toEqual({ name: PROCESS });
    expect(so['spec'].triggers).toEqual([
      {
        type: 'metrics-api',
        name: 'lag-shard-0',
        metadata: {
          url: `http://${INGEST}.energy.svc:80/metrics`,
          valueLocation: 'backlog.shards.0.lag',
          targetValue: '500',
          activationTargetValue: '0',
        },
      },
    ]);
    // KEDA neither authenticates to Redis nor reaches it.
    expect(ms.filter((m) => m.kind === 'TriggerAuthentication')).toEqual([]);
    const redisFrom = find(ms, 'NetworkPolicy', 'ep-redis')['spec'].ingress[0].from;
    expect(redisFrom.map((p: Manifest) => p['podSelector']?.matchLabels['app.kubernetes.io/component'])).toEqual(['ingest', 'process']);
  });

  it('refuses KEDA and an HPA on the processor at once', async () => {
    await expect(render(['--set', 'process.keda.enabled=true', '--set', 'process.autoscaling.enabled=true'])).rejects.toThrow(
      /mutually exclusive/,
    );
  });

  it('rejects unknown or mistyped values through values.schema.json', async () => {
    await expect(render(['--set', 'replicas=3'])).rejects.toThrow(/additional properties 'replicas' not allowed/);
    await expect(render(['--set', 'ingest.autoscaling.minReplica=3'])).rejects.toThrow(/ingest\/autoscaling.*minReplica/);
    await expect(render(['--set', 'process.logLevel=loud'])).rejects.toThrow(/process\/logLevel/);
    await expect(render(['--set', 'ingest.probes.liveness.timeoutSeconds=1'])).rejects.toThrow(/liveness/);
  });

  it('scrapes /metrics only when asked, through a ServiceMonitor or a GKE PodMonitoring', () => {
    expect(rendered['default']!.filter((m) => /Monitor/.test(m.kind))).toEqual([]);
    const ms = rendered['monitoring and auth']!;
    for (const kind of ['ServiceMonitor', 'PodMonitoring']) {
      const m = find(ms, kind, 'ep');
      expect(m['spec'].endpoints).toEqual([{ port: 'http', path: '/metrics', interval: '30s' }]);
      expect(m['spec'].selector.matchExpressions[0].values).toEqual(['ingest', 'process']);
    }
    const ingestFrom = find(ms, 'NetworkPolicy', INGEST)['spec'].ingress[0].from;
    expect(ingestFrom).toContainEqual({ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'gmp-system' } } });
    expect(ingestFrom).toContainEqual({ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'gateways' } } });
  });

  it('has a helm test hook that runs the smoke test on the ingest image against both services', () => {
    const ms = rendered['default']!;
    const pod = find(ms, 'Pod', 'ep-smoke-test');
    expect(pod.metadata['annotations']['helm.sh/hook']).toBe('test');
    const c = pod['spec'].containers[0];
    expect(c.image).toBe(container(deployment('default', INGEST)).image);
    expect(c.command).toEqual(['node', '/smoke/smoke-test.mjs']);
    expect(Object.fromEntries(c.env.map((e: { name: string; value: string }) => [e.name, e.value]))).toMatchObject({
      INGEST_URL: `http://${INGEST}:80`,
      PROCESS_URL: `http://${PROCESS}:80`,
    });
    const cm = find(ms, 'ConfigMap', 'ep-smoke-test');
    expect(cm['data']['smoke-test.mjs']).toBe(readFileSync(join(chartDir, 'files/smoke-test.mjs'), 'utf8'));
  });
});
