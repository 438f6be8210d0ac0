/** What leaves and what enters: DNS egress only to the cluster's resolver, and HTTPS routes for devices. */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { chartDir, find, type Manifest, render } from './helm.js';
import { validateManifest } from './k8s-schemas.js';

const INGEST = 'ep-ingestion-api';
const PROCESS = 'ep-processing-service';
const DNS_PORTS = [
  { port: 53, protocol: 'UDP' },
  { port: 53, protocol: 'TCP' },
];
const kubeDns = {
  namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } },
  podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } },
};
const dnsRule = (ms: Manifest[], name: string) =>
  find(ms, 'NetworkPolicy', name)['spec'].egress.find((r: Manifest) => r['ports']?.[0]?.port === 53);

describe('DNS egress', () => {
  it('goes only to kube-dns by default, and every egress rule of the services names its peers', async () => {
    const ms = await render();
    for (const name of [INGEST, PROCESS]) {
      expect(dnsRule(ms, name)).toEqual({ ports: DNS_PORTS, to: [kubeDns] });
      for (const rule of find(ms, 'NetworkPolicy', name)['spec'].egress) expect(rule.to, name).toBeDefined();
    }
  });

  it('goes where networkPolicy.dnsTo says instead (NodeLocal DNSCache, GKE Cloud DNS), or to any address when empty', async () => {
    const nodeLocal = [{ ipBlock: { cidr: '169.254.20.10/32' } }, kubeDns];
    const ms = await render(['--set-json', `networkPolicy.dnsTo=${JSON.stringify(nodeLocal)}`]);
    expect(dnsRule(ms, INGEST)).toEqual({ ports: DNS_PORTS, to: nodeLocal });
    const gke = await render(['--values', join(chartDir, 'values-gke.yaml'), '--set', 'redis.external.host=10.0.0.3']);
    expect(dnsRule(gke, PROCESS).to).toContainEqual({ ipBlock: { cidr: '169.254.169.254/32' } });
    const open = await render(['--set-json', 'networkPolicy.dnsTo=[]']);
    expect(dnsRule(open, INGEST)).toEqual({ ports: DNS_PORTS });
  });
});

describe('TLS for devices', () => {
  it('exposes ingest outside the cluster only when asked', async () => {
    const ms = await render();
    expect(ms.filter((m) => m.kind === 'Ingress' || m.kind === 'HTTPRoute')).toEqual([]);
  });

  it('routes only the write routes through an Ingress with TLS (cert-manager)', async () => {
    const ms = await render([
      '--set', 'ingest.ingress.enabled=true',
      '--set', 'ingest.ingress.className=nginx',
      '--set', 'ingest.ingress.hosts={ingest.example.com}',
      '--set', 'ingest.ingress.annotations.cert-manager\\.io/cluster-issuer=letsencrypt',
      '--set-json', 'ingest.ingress.tls=[{"secretName":"ingest-tls","hosts":["ingest.example.com"]}]',
    ]);
    const ingress = find(ms, 'Ingress', INGEST);
    validateManifest(ingress);
    expect(ingress.metadata['annotations']).toEqual({ 'cert-manager.io/cluster-issuer': 'letsencrypt' });
    expect(ingress['spec']).toEqual({
      ingressClassName: 'nginx',
      tls: [{ secretName: 'ingest-tls', hosts: ['ingest.example.com'] }],
      rules: [
        {
          host: 'ingest.example.com',
          http: { paths: [{ path: '/readings', pathType: 'Prefix', backend: { service: { name: INGEST, port: { number: 80 } } } }] },
        },
      ],
    });
    expect(find(ms, 'Service', INGEST)['spec'].ports[0].port).toBe(80);
  });

  it('attaches an HTTPRoute to a Gateway that terminates TLS', async () => {
    const ms = await render([
      '--set', 'ingest.httpRoute.enabled=true',
      '--set-json', 'ingest.httpRoute.parentRefs=[{"name":"external","namespace":"gateways","sectionName":"https"}]',
      '--set', 'ingest.httpRoute.hostnames={ingest.example.com}',
      '--set', 'ingest.service.port=8080',
    ]);
    const route = find(ms, 'HTTPRoute', INGEST);
    validateManifest(route);
    expect(route.apiVersion).toBe('gateway.networking.k8s.io/v1');
    expect(route['spec']).toEqual({
      parentRefs: [{ name: 'external', namespace: 'gateways', sectionName: 'https' }],
      hostnames: ['ingest.example.com'],
      rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/readings' } }], backendRefs: [{ name: INGEST, port: 8080 }] }],
    });
  });

  it('validates HTTPRoutes against the Gateway API schema', () => {
    const bad = {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name: 'bad' },
      spec: { rules: [{ matches: [{ path: { type: 'Glob', value: '/readings' } }] }] },
    };
    expect(() => validateManifest(bad)).toThrow(/HTTPRoute bad/);
  });

  it('refuses an Ingress without hosts, an HTTPRoute without a Gateway, and bad host names or paths', async () => {
    await expect(render(['--set', 'ingest.ingress.enabled=true'])).rejects.toThrow(/ingest.ingress.hosts/);
    await expect(render(['--set', 'ingest.httpRoute.enabled=true'])).rejects.toThrow(/ingest.httpRoute.parentRefs/);
    await expect(render(['--set', 'ingest.ingress.hosts={Ingest_Host}'])).rejects.toThrow(/ingress\/hosts/);
    await expect(render(['--set', 'ingest.httpRoute.paths={readings}'])).rejects.toThrow(/httpRoute\/paths/);
  });
});
