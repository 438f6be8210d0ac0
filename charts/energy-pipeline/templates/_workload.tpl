{{/*
Deployment, Service and PodDisruptionBudget of one service. Called with a dict:
  ctx: the root context; component: ingest | process; name: object name; v: its values;
  port: container port; autoscaled: true when an HPA or a ScaledObject owns the replica count;
  env: extra env (YAML list) for this service.
*/}}
{{- define "ep.workload" -}}
{{- $ctx := .ctx -}}
{{- $v := .v -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .name }}
  labels:
    {{- include "ep.labels" $ctx | nindent 4 }}
    app.kubernetes.io/component: {{ .component }}
spec:
  {{- if not .autoscaled }}
  replicas: {{ $v.replicaCount }}
  {{- end }}
  revisionHistoryLimit: 5
  strategy:
    type: RollingUpdate
    rollingUpdate: { maxSurge: 25%, maxUnavailable: 0 }
  selector:
    matchLabels:
      {{- include "ep.selectorLabels" (dict "ctx" $ctx "component" .component) | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "ep.labels" $ctx | nindent 8 }}
        app.kubernetes.io/component: {{ .component }}
        {{- with $v.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- with $v.podAnnotations }}
      annotations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
    spec:
      automountServiceAccountToken: false
      enableServiceLinks: false
      terminationGracePeriodSeconds: {{ include "ep.gracePeriod" $v }}
      securityContext:
        {{- include "ep.podSecurityContext" dict | nindent 8 }}
      {{- with $ctx.Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      containers:
        - name: {{ .component }}
          image: {{ include "ep.image" (dict "ctx" $ctx "image" $v.image) | quote }}
          imagePullPolicy: {{ $v.image.pullPolicy }}
          ports:
            - name: http
              containerPort: {{ .port }}
              protocol: TCP
          env:
            - name: PORT
              value: {{ .port | quote }}
            - name: LOG_LEVEL
              value: {{ $v.logLevel | quote }}
            - name: ACCESS_LOG
              value: {{ $v.accessLog | quote }}
            - name: SHUTDOWN_TIMEOUT_MS
              value: {{ $v.shutdownTimeoutMs | quote }}
            {{- include "ep.redisEnv" $ctx | trim | nindent 12 }}
            {{- with .env }}
            {{- . | nindent 12 }}
            {{- end }}
            {{- range $k, $val := $v.env }}
            - name: {{ $k }}
              value: {{ include "ep.plain" $val | quote }}
            {{- end }}
            {{- with $v.extraEnv }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          {{- with $v.envFrom }}
          envFrom:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          # Started: the server listens (config parsed, plugins loaded). Until then the other
          # probes wait; a start that never finishes ends in a restart.
          startupProbe:
            tcpSocket: { port: http }
            periodSeconds: {{ $v.probes.startup.periodSeconds }}
            failureThreshold: {{ $v.probes.startup.failureThreshold }}
          # Ready: it can do its job now (Redis reachable; for the processor, the consumer loop
          # runs). Not ready takes it out of the Service and holds a rollout, without a restart.
          readinessProbe:
            httpGet: { path: /health, port: http }
            periodSeconds: {{ $v.probes.readiness.periodSeconds }}
            failureThreshold: {{ $v.probes.readiness.failureThreshold }}
            timeoutSeconds: {{ $v.probes.readiness.timeoutSeconds }}
          # Alive: the event loop answers (files/liveness.js). A Redis outage is not a reason to
          # restart, so /health's 503 for "Redis down" counts as alive.
          livenessProbe:
            exec:
              command:
                - node
                - -e
                - {{ regexReplaceAll "(?m)^//.*\n" ($ctx.Files.Get "files/liveness.js") "" | quote }}
                - {{ sub (mul $v.probes.liveness.timeoutSeconds 1000) 1000 | quote }}
            periodSeconds: {{ $v.probes.liveness.periodSeconds }}
            failureThreshold: {{ $v.probes.liveness.failureThreshold }}
            timeoutSeconds: {{ $v.probes.liveness.timeoutSeconds }}
          {{- if $v.preStopSleepSeconds }}
          lifecycle:
            # Keep serving while the endpoint removal reaches every kube-proxy/load balancer.
            preStop:
              sleep: { seconds: {{ $v.preStopSleepSeconds }} }
          {{- end }}
          resources:
            {{- toYaml $v.resources | nindent 12 }}
          securityContext:
            {{- include "ep.containerSecurityContext" . | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
            {{- if include "ep.redis.caVolume" $ctx }}
            - name: redis-ca
              mountPath: {{ include "ep.redis.caDir" $ctx }}
              readOnly: true
            {{- end }}
            {{- with $v.extraVolumeMounts }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
      volumes:
        - name: tmp
          emptyDir: { sizeLimit: 64Mi }
        {{- with include "ep.redis.caVolume" $ctx }}
        - name: redis-ca
          {{- . | nindent 10 }}
        {{- end }}
        {{- with $v.extraVolumes }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- with $v.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $v.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $v.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      topologySpreadConstraints:
        {{- if $v.topologySpreadConstraints }}
        {{- toYaml $v.topologySpreadConstraints | nindent 8 }}
        {{- else }}
        {{- range list "topology.kubernetes.io/zone" "kubernetes.io/hostname" }}
        - maxSkew: 1
          topologyKey: {{ . }}
          whenUnsatisfiable: ScheduleAnyway
          labelSelector:
            matchLabels:
              {{- include "ep.selectorLabels" (dict "ctx" $ctx "component" $.component) | nindent 14 }}
        {{- end }}
        {{- end }}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ .name }}
  labels:
    {{- include "ep.labels" $ctx | nindent 4 }}
    app.kubernetes.io/component: {{ .component }}
  {{- with $v.service.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  type: {{ $v.service.type }}
  selector:
    {{- include "ep.selectorLabels" (dict "ctx" $ctx "component" .component) | nindent 4 }}
  ports:
    - name: http
      port: {{ $v.service.port }}
      targetPort: http
      protocol: TCP
{{- if $v.podDisruptionBudget.enabled }}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ .name }}
  labels:
    {{- include "ep.labels" $ctx | nindent 4 }}
    app.kubernetes.io/component: {{ .component }}
spec:
  maxUnavailable: {{ $v.podDisruptionBudget.maxUnavailable }}
  selector:
    matchLabels:
      {{- include "ep.selectorLabels" (dict "ctx" $ctx "component" .component) | nindent 6 }}
{{- end }}
{{- end }}

{{/* A CPU HorizontalPodAutoscaler: (dict "ctx" $ "component" ... "name" ... "a" autoscaling-values). */}}
{{- define "ep.hpa" -}}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ .name }}
  labels:
    {{- include "ep.labels" .ctx | nindent 4 }}
    app.kubernetes.io/component: {{ .component }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ .name }}
  minReplicas: {{ .a.minReplicas }}
  maxReplicas: {{ .a.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ .a.targetCPUUtilizationPercentage }}
{{- end }}
