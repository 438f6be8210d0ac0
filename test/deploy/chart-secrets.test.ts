/**
 * Every key and password the chart uses can come from an existing Secret, and then the chart
 * generates none: the way to pin them under `helm template` (GitOps), where `lookup` sees no
 * cluster and each render would otherwise make new random values.
 */
import { describe, expect, it } from 'vitest';
import { type Manifest, find, render } from './helm.js';

const secrets = (ms: Manifest[]) => ms.filter((m) => m.kind === 'Secret').map((m) => m.metadata.name);
const env = (ms: Manifest[], kind: string, name: string) => {
  const m = find(ms, kind, name);
  const spec = kind === 'Pod' ? m['spec'] : m['spec'].template.spec;
  return spec.containers[0].env as { name: string; valueFrom?: { secretKeyRef?: Record<string, unknown> } }[];
};
const secretRefs = (ms: Manifest[]) =>
  ms
    .filter((m) => m.kind === 'Pod' || m['spec']?.template)
    .flatMap((m) => (m.kind === 'Pod' ? m['spec'] : m['spec'].template.spec).containers)
    .flatMap((c: { env?: { valueFrom?: { secretKeyRef?: { name: string } } }[] }) => c.env ?? [])
    .flatMap((e: { valueFrom?: { secretKeyRef?: { name: string } } }) => (e.valueFrom?.secretKeyRef ? [e.valueFrom.secretKeyRef.name] : []));

const allExisting = [
  '--set', 'auth.apiKeys.existingSecret=api-keys',
  '--set', 'redis.internal.existingSecret=valkey-auth',
  '--set', 'tests.apiKeySecret.name=test-keys',
];

describe('existing Secrets', () => {
  it('generates the Valkey password and both API keys by default', async () => {
    expect(secrets(await render()).sort()).toEqual(['ep-ingest-api-key', 'ep-redis-auth']);
  });

  it('uses redis.internal.existingSecret for the Valkey password and generates none', async () => {
    const ms = await render(['--set', 'redis.internal.existingSecret=valkey-auth', '--set', 'process.keda.enabled=true']);
    expect(secrets(ms)).toEqual(['ep-ingest-api-key']);
    const ref = { secretKeyRef: { name: 'valkey-auth', key: 'password' } };
    for (const name of ['ep-ingestion-api', 'ep-processing-service']) {
      expect(env(ms, 'Deployment', name).find((e) => e.name === 'REDIS_PASSWORD')?.valueFrom).toEqual(ref);
    }
    expect(env(ms, 'StatefulSet', 'ep-redis')).toEqual([{ name: 'REDISCLI_AUTH', valueFrom: ref }]);
    expect(find(ms, 'TriggerAuthentication', 'ep-processing-service-redis')['spec'].secretTargetRef[0].name).toBe('valkey-auth');
  });

  it('uses auth.apiKeys.existingSecret for both services and generates no keys', async () => {
    const ms = await render(['--set', 'auth.apiKeys.existingSecret=api-keys', '--set', 'auth.apiKeys.key=list']);
    expect(secrets(ms)).toEqual(['ep-redis-auth']);
    for (const name of ['ep-ingestion-api', 'ep-processing-service']) {
      expect(env(ms, 'Deployment', name).find((e) => e.name === 'API_KEYS')?.valueFrom).toEqual({ secretKeyRef: { name: 'api-keys', key: 'list' } });
    }
  });

  it('uses tests.apiKeySecret for the helm test keys', async () => {
    const ms = await render(['--set', 'tests.apiKeySecret.name=test-keys', '--set', 'tests.apiKeySecret.readKey=reader']);
    const smoke = env(ms, 'Pod', 'ep-smoke-test');
    expect(smoke.find((e) => e.name === 'API_KEY')?.valueFrom).toEqual({ secretKeyRef: { name: 'test-keys', key: 'api-key' } });
    expect(smoke.find((e) => e.name === 'READ_API_KEY')?.valueFrom).toEqual({ secretKeyRef: { name: 'test-keys', key: 'reader', optional: true } });
  });

  it('renders no Secret at all when every one is given, and only refers to those', async () => {
    const ms = await render(allExisting);
    expect(secrets(ms)).toEqual([]);
    expect([...new Set(secretRefs(ms))].sort()).toEqual(['api-keys', 'test-keys', 'valkey-auth']);
  });
});

describe('helm template (GitOps)', () => {
  it('makes new random values on every render while the chart generates secrets', async () => {
    const [a, b] = await Promise.all([render(), render()]);
    for (const [name, key] of [['ep-ingest-api-key', 'token'], ['ep-ingest-api-key', 'operator-token'], ['ep-redis-auth', 'password']] as const) {
      expect(find(a, 'Secret', name)['data'][key], `${name}/${key}`).not.toBe(find(b, 'Secret', name)['data'][key]);
    }
  });

  it('renders the same manifests every time once every secret is pinned with an existing Secret', async () => {
    const [a, b] = await Promise.all([render(allExisting), render(allExisting)]);
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
  });
});
