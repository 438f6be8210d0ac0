/**
 * Offline validation of rendered manifests against the Kubernetes OpenAPI schemas, as compiled
 * into the kubernetes-models packages (built-in kinds, KEDA, prometheus-operator, Gateway API). These check
 * types, required fields and enums; like kubeconform without -strict they do not reject unknown
 * fields, so the chart tests assert the fields that matter by path as well.
 */
import * as apps from 'kubernetes-models/apps/v1';
import * as autoscaling from 'kubernetes-models/autoscaling/v2';
import * as networking from 'kubernetes-models/networking.k8s.io/v1';
import * as policy from 'kubernetes-models/policy/v1';
import * as core from 'kubernetes-models/v1';
import * as gatewayApi from '@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1';
import * as keda from '@kubernetes-models/keda/keda.sh/v1alpha1';
import * as promOperator from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import type { Manifest } from './helm.js';

type Validatable = new (data: never) => { validate(): void };

const models: Record<string, Record<string, unknown>> = {
  v1: core,
  'apps/v1': apps,
  'autoscaling/v2': autoscaling,
  'networking.k8s.io/v1': networking,
  'policy/v1': policy,
  'keda.sh/v1alpha1': keda,
  'monitoring.coreos.com/v1': promOperator,
  'gateway.networking.k8s.io/v1': gatewayApi,
};

/**
 * GKE's PodMonitoring (monitoring.googleapis.com/v1) has no published model package; this
 * checks the fields its CRD requires and nothing it does not know.
 */
function validatePodMonitoring(m: Manifest) {
  const spec = m['spec'];
  const allowed = new Set(['selector', 'endpoints', 'limits', 'targetLabels', 'filterRunning']);
  for (const key of Object.keys(spec ?? {})) if (!allowed.has(key)) throw new Error(`PodMonitoring: unknown spec.${key}`);
  if (!spec?.selector) throw new Error('PodMonitoring: spec.selector is required');
  if (!Array.isArray(spec.endpoints) || spec.endpoints.length === 0) throw new Error('PodMonitoring: spec.endpoints is required');
  for (const e of spec.endpoints) {
    if (!e.port) throw new Error('PodMonitoring: endpoints[].port is required');
    if (e.interval && !/^[0-9]+(ms|s|m|h)$/.test(e.interval)) throw new Error(`PodMonitoring: bad interval ${e.interval}`);
  }
}

/**
 * GKE's Rules (monitoring.googleapis.com/v1), likewise: what its CRD requires (groups with a name,
 * an interval and rules; each rule an expr and one of alert or record), and nothing else.
 */
function validateGmpRules(m: Manifest) {
  const spec = m['spec'];
  for (const key of Object.keys(spec ?? {})) if (key !== 'groups') throw new Error(`Rules: unknown spec.${key}`);
  if (!Array.isArray(spec?.groups)) throw new Error('Rules: spec.groups is required');
  const fields = new Set(['alert', 'record', 'expr', 'for', 'labels', 'annotations']);
  for (const g of spec.groups) {
    if (typeof g.name !== 'string' || !Array.isArray(g.rules)) throw new Error('Rules: groups[] need a name and rules');
    if (!/^[0-9]+(ms|s|m|h)$/.test(g.interval ?? '')) throw new Error(`Rules: group ${g.name} needs an interval, got ${g.interval}`);
    for (const r of g.rules) {
      for (const key of Object.keys(r)) if (!fields.has(key)) throw new Error(`Rules: unknown rule field ${key}`);
      if (typeof r.expr !== 'string') throw new Error(`Rules: ${r.alert ?? r.record} has no expr`);
      if (!r.alert === !r.record) throw new Error('Rules: a rule sets exactly one of alert and record');
      for (const map of [r.labels, r.annotations]) {
        for (const v of Object.values(map ?? {})) if (typeof v !== 'string') throw new Error(`Rules: ${r.alert}: label and annotation values are strings`);
      }
    }
  }
}

/** Throws naming the object and the schema violation; unknown apiVersion/kind pairs throw too. */
export function validateManifest(m: Manifest): void {
  const where = `${m.apiVersion} ${m.kind} ${m.metadata?.name}`;
  if (m.apiVersion === 'monitoring.googleapis.com/v1' && m.kind === 'PodMonitoring') {
    validatePodMonitoring(m);
    return;
  }
  if (m.apiVersion === 'monitoring.googleapis.com/v1' && m.kind === 'Rules') {
    validateGmpRules(m);
    return;
  }
  const Model = models[m.apiVersion]?.[m.kind] as Validatable | undefined;
  if (!Model) throw new Error(`${where}: no schema known for it; add one to test/deploy/k8s-schemas.ts`);
  try {
    new Model(m as never).validate();
  } catch (err) {
    throw new Error(`${where}: ${(err as Error).message}`);
  }
}
