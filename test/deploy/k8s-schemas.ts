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

/** Throws naming the object and the schema violation; unknown apiVersion/kind pairs throw too. */
export function validateManifest(m: Manifest): void {
  const where = `${m.apiVersion} ${m.kind} ${m.metadata?.name}`;
  if (m.apiVersion === 'monitoring.googleapis.com/v1' && m.kind === 'PodMonitoring') {
    validatePodMonitoring(m);
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
