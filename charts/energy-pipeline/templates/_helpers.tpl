{{/* Object names: <release>-ingestion-api, <release>-processing-service, <release>-redis (the seed's names). */}}
{{- define "ep.prefix" -}}
{{- default .Release.Name .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- end }}
{{- define "ep.ingest.name" -}}{{ include "ep.prefix" . }}-ingestion-api{{- end }}
{{- define "ep.process.name" -}}{{ include "ep.prefix" . }}-processing-service{{- end }}
{{- define "ep.redis.name" -}}{{ include "ep.prefix" . }}-redis{{- end }}
{{- /* The chart makes API keys when none are given and auth is on: installs are never open by default. */}}
{{- define "ep.apiKey.generated" -}}{{ and (not .Values.auth.disabled) (not .Values.auth.apiKeys.existingSecret) }}{{- end }}
{{- define "ep.apiKey.secretName" -}}{{ include "ep.prefix" . }}-ingest-api-key{{- end }}
{{- /* Auth environment, the same for both services: one key list (API_KEYS) or AUTH_DISABLED. */}}
{{- define "ep.authEnv" -}}
{{- $a := .Values.auth -}}
{{- if $a.disabled }}
- name: AUTH_DISABLED
  value: "true"
{{- else }}
- name: API_KEYS
  valueFrom:
    secretKeyRef:
      {{- if $a.apiKeys.existingSecret }}
      name: {{ $a.apiKeys.existingSecret }}
      key: {{ $a.apiKeys.key }}
      {{- else }}
      name: {{ include "ep.apiKey.secretName" . }}
      key: api-keys
      {{- end }}
{{- end }}
{{- end }}

{{- /*
A Kubernetes memory quantity (512Mi, 1G, 1.5Gi, 536870912) in bytes, as a float; fails on
anything else. YAML numbers arrive as numbers, strings are split into a number and a suffix.
*/}}
{{- define "ep.quantityBytes" -}}
{{- if kindIs "string" . -}}
{{- $number := regexFind "^[0-9]+(\\.[0-9]+)?" . -}}
{{- $suffix := trimPrefix $number . -}}
{{- $units := dict "" 1 "k" 1000 "M" 1000000 "G" 1000000000 "T" 1000000000000 "Ki" 1024 "Mi" 1048576 "Gi" 1073741824 "Ti" 1099511627776 -}}
{{- if or (not $number) (not (hasKey $units $suffix)) -}}
{{- fail (printf "%q is not a memory quantity such as 512Mi or 1Gi" .) -}}
{{- end -}}
{{- mulf (float64 $number) (index $units $suffix) -}}
{{- else -}}
{{- float64 . -}}
{{- end -}}
{{- end }}

{{- define "ep.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: energy-pipeline
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: energy-pipeline
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Selector labels of one component: call with (dict "ctx" $ "component" "ingest"). */}}
{{- define "ep.selectorLabels" -}}
app.kubernetes.io/name: energy-pipeline
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "ep.image" -}}
{{- printf "%s:%s" .image.repository (default .ctx.Chart.AppVersion .image.tag) -}}
{{- end }}

{{/* The restricted Pod Security Standard, for the pod and for each container. */}}
{{- define "ep.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .uid | default 1000 }}
runAsGroup: {{ .gid | default 1000 }}
fsGroup: {{ .gid | default 1000 }}
seccompProfile:
  type: RuntimeDefault
{{- end }}
{{- define "ep.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* The Secret and key holding the Redis password, or nothing when there is none. */}}
{{- define "ep.redis.passwordSecret" -}}
{{- if .Values.redis.internal.enabled -}}
{{ default (printf "%s-auth" (include "ep.redis.name" .)) .Values.redis.internal.existingSecret }}
{{- else if .Values.redis.external.existingSecret -}}
{{ .Values.redis.external.existingSecret }}
{{- end -}}
{{- end }}
{{- define "ep.redis.passwordKey" -}}
{{- if .Values.redis.internal.enabled }}{{ .Values.redis.internal.passwordKey }}{{ else }}{{ .Values.redis.external.passwordKey }}{{ end -}}
{{- end }}
{{- define "ep.redis.host" -}}
{{- if .Values.redis.internal.enabled }}{{ include "ep.redis.name" . }}{{ else }}{{ .Values.redis.external.host }}{{ end -}}
{{- end }}
{{- define "ep.redis.port" -}}
{{- if .Values.redis.internal.enabled }}6379{{ else }}{{ .Values.redis.external.port }}{{ end -}}
{{- end }}

{{/* Fails the render on contradictory settings, with a message naming them. */}}
{{- define "ep.validate" -}}
{{- $r := .Values.redis -}}
{{- $external := or $r.external.host $r.external.urlSecret.name -}}
{{- if and $r.internal.enabled $external -}}
{{- fail "redis: set redis.internal.enabled=false to use redis.external (both are set)" -}}
{{- end -}}
{{- if not (or $r.internal.enabled $external) -}}
{{- fail "redis: no Redis configured: enable redis.internal or set redis.external.host (or redis.external.urlSecret.name)" -}}
{{- end -}}
{{- if and .Values.process.autoscaling.enabled .Values.process.keda.enabled -}}
{{- fail "process: autoscaling.enabled and keda.enabled are mutually exclusive (both would scale the same Deployment)" -}}
{{- end -}}
{{- if and .Values.process.keda.enabled $r.external.urlSecret.name (not $r.external.host) -}}
{{- fail "process.keda needs redis.external.host/port (KEDA cannot read redis.external.urlSecret)" -}}
{{- end -}}
{{- end }}

{{/* Environment shared by both services: Redis connection and stream names. */}}
{{- define "ep.redisEnv" -}}
{{- $r := .Values.redis -}}
{{- if and (not $r.internal.enabled) $r.external.urlSecret.name }}
- name: REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ $r.external.urlSecret.name }}
      key: {{ $r.external.urlSecret.key }}
{{- else }}
- name: REDIS_HOST
  value: {{ include "ep.redis.host" . | quote }}
- name: REDIS_PORT
  value: {{ include "ep.redis.port" . | quote }}
{{- with include "ep.redis.passwordSecret" . }}
- name: REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ include "ep.redis.passwordKey" $ }}
{{- end }}
{{- end }}
- name: REDIS_STREAM
  value: {{ $r.stream | quote }}
- name: CONSUMER_GROUP
  value: {{ $r.consumerGroup | quote }}
- name: REDIS_COMMAND_TIMEOUT_MS
  value: {{ $r.commandTimeoutMs | quote }}
{{- if $r.allowEviction }}
- name: ALLOW_EVICTION
  value: "true"
{{- end }}
{{- end }}

{{/* Seconds the kubelet waits after SIGTERM: preStop sleep + the service's own drain bound + slack. */}}
{{- define "ep.gracePeriod" -}}
{{- add (default 0 .preStopSleepSeconds) (div (add .shutdownTimeoutMs 999) 1000) 5 -}}
{{- end }}
