{{/*
Chart name, truncated to the 63 characters a label value allows.
*/}}
{{- define "veritas.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Prefix of every resource name: "<release>-<chart>", or the release name when it already
contains the chart name (so `helm install veritas` gives veritas-embedding, not
veritas-veritas-embedding).
*/}}
{{- define "veritas.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Name of one service's objects (Deployment, Service, ConfigMap, PVC). This is also the DNS
name its peers dial. Call with (dict "root" $ "name" "embedding").
*/}}
{{- define "veritas.serviceName" -}}
{{- printf "%s-%s" (include "veritas.fullname" .root) .name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "veritas.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels of every object of the release.
*/}}
{{- define "veritas.labels" -}}
helm.sh/chart: {{ include "veritas.chart" . }}
app.kubernetes.io/name: {{ include "veritas.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/part-of: veritas
{{- if .Chart.AppVersion }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
Selector labels of one service's pods. Call with (dict "root" $ "name" "embedding").
*/}}
{{- define "veritas.selectorLabels" -}}
app.kubernetes.io/name: {{ include "veritas.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .name }}
{{- end }}

{{/*
All labels of one service's objects. Call with (dict "root" $ "name" "embedding").
*/}}
{{- define "veritas.serviceLabels" -}}
{{ include "veritas.labels" .root }}
app.kubernetes.io/component: {{ .name }}
{{- end }}

{{/*
Image reference of one service. Call with (dict "root" $ "svc" $svc).
The tag falls back to image.tag, then appVersion; GPU services get gpu.imageTagSuffix on that
fallback (their images carry the CUDA torch).
*/}}
{{- define "veritas.image" -}}
{{- $root := .root }}
{{- $svc := .svc }}
{{- $tag := $svc.image.tag }}
{{- if not $tag }}
{{- $tag = default $root.Chart.AppVersion $root.Values.image.tag }}
{{- if $svc.gpu.enabled }}
{{- $tag = printf "%s%s" $tag $root.Values.gpu.imageTagSuffix }}
{{- end }}
{{- end }}
{{- if $root.Values.image.registry }}
{{- printf "%s/%s:%s" (trimSuffix "/" $root.Values.image.registry) $svc.image.repository $tag }}
{{- else }}
{{- printf "%s:%s" $svc.image.repository $tag }}
{{- end }}
{{- end }}

{{/*
Name of the Secret holding secret settings (the rendered one or secret.existingSecret).
*/}}
{{- define "veritas.secretName" -}}
{{- default (printf "%s-secrets" (include "veritas.fullname" .)) .Values.secret.existingSecret }}
{{- end }}

{{/*
Environment of one service as a dict (ConfigMap data): common settings, the service's port,
peer addresses computed from the services map, generation's engine settings
(veritas.generationEngineEnv), config.env, then the service's own env.
Fails when a peer is unknown or disabled, or env/config.env names an engine setting. Call with (dict "root" $ "name" $name "svc" $svc);
returns YAML, read back with fromYaml.
*/}}
{{- define "veritas.serviceEnv" -}}
{{- $root := .root }}
{{- $svc := .svc }}
{{- $env := dict
  "VERITAS_HOST" "0.0.0.0"
  "VERITAS_PORT" (toString (int $svc.port))
  "VERITAS_DATA_DIR" "/data"
  "VERITAS_LOG_LEVEL" $root.Values.config.logLevel
}}
{{- if gt (int $svc.metricsPort) 0 }}
{{- $_ := set $env "VERITAS_METRICS_PORT" (toString (int $svc.metricsPort)) }}
{{- end }}
{{- range $peer := $svc.peers }}
{{- $peerSvc := get $root.Values.services $peer }}
{{- if not $peerSvc }}
{{- fail (printf "services.%s.peers: %q is not a service in services" $.name $peer) }}
{{- end }}
{{- if not $peerSvc.enabled }}
{{- fail (printf "services.%s.peers: %q is disabled; enable it or remove it from the peers of %s (and set VERITAS_%s_ADDR in services.%s.env for an external endpoint)" $.name $peer $.name (upper $peer) $.name) }}
{{- end }}
{{- $addr := printf "%s:%d" (include "veritas.serviceName" (dict "root" $root "name" $peer)) (int $peerSvc.port) }}
{{- $_ := set $env (printf "VERITAS_%s_ADDR" (upper $peer)) $addr }}
{{- end }}
{{- if eq .name "generation" }}
{{- $engine := include "veritas.generationEngineEnv" (dict "svc" $svc) | fromYaml }}
{{- range $k, $v := $engine }}
{{- if or (hasKey (default dict $root.Values.config.env) $k) (hasKey (default dict $svc.env) $k) }}
{{- fail (printf "services.generation: %s comes from services.generation.engine; set it there, not in services.generation.env or config.env" $k) }}
{{- end }}
{{- $_ := set $env $k $v }}
{{- end }}
{{- end }}
{{- range $k, $v := $root.Values.config.env }}
{{- $_ := set $env $k (toString $v) }}
{{- end }}
{{- range $k, $v := $svc.env }}
{{- $_ := set $env $k (toString $v) }}
{{- end }}
{{- toYaml $env }}
{{- end }}

{{/*
The vLLM engine settings of the generation service (services.generation.engine) as a dict of
VERITAS_GENERATION_* variables: dtype, max_num_seqs and max_model_len always; tensor-parallel
size and GPU memory utilisation with gpu.enabled, the KV-cache size without. Fails when
gpu.count and engine.tensorParallelSize disagree, or tensorParallelSize > 1 without a GPU.
Call with (dict "svc" $svc); returns YAML, read back with fromYaml.
*/}}
{{- define "veritas.generationEngineEnv" -}}
{{- $svc := .svc }}
{{- $engine := $svc.engine }}
{{- $tp := int $engine.tensorParallelSize }}
{{- $env := dict
  "VERITAS_GENERATION_DTYPE" $engine.dtype
  "VERITAS_GENERATION_MAX_NUM_SEQS" (toString (int $engine.maxNumSeqs))
  "VERITAS_GENERATION_MAX_MODEL_LEN" (toString (int $engine.maxModelLen))
}}
{{- if $svc.gpu.enabled }}
{{- if ne (int $svc.gpu.count) $tp }}
{{- fail (printf "services.generation: gpu.count is %d but engine.tensorParallelSize is %d; vLLM runs one worker per GPU of the tensor-parallel group, set both to the same number" (int $svc.gpu.count) $tp) }}
{{- end }}
{{- $_ := set $env "VERITAS_GENERATION_TENSOR_PARALLEL_SIZE" (toString $tp) }}
{{- $_ := set $env "VERITAS_GENERATION_GPU_MEMORY_UTILIZATION" (toString $engine.gpuMemoryUtilization) }}
{{- else }}
{{- if gt $tp 1 }}
{{- fail (printf "services.generation: engine.tensorParallelSize is %d but gpu.enabled is false; tensor parallelism splits the model over GPUs, use 1 on CPU" $tp) }}
{{- end }}
{{- $_ := set $env "VERITAS_GENERATION_KV_CACHE_GIB" (toString (int $engine.kvCacheGiB)) }}
{{- end }}
{{- toYaml $env }}
{{- end }}

{{/*
Probe handler of one service: native gRPC health checking (grpc.health.v1) for gRPC services,
an HTTP GET on `path` for http, a TCP connect for tcp. Call with (dict "svc" $svc "path" $path).
*/}}
{{- define "veritas.probeHandler" -}}
{{- $svc := .svc }}
{{- if eq $svc.probes.type "grpc" }}
grpc:
  port: {{ $svc.port }}
{{- else if eq $svc.probes.type "http" }}
{{- if not .path }}
{{- fail "probes.type http needs readinessPath and livenessPath" }}
{{- end }}
httpGet:
  path: {{ .path }}
  port: {{ $svc.protocol }}
{{- else }}
tcpSocket:
  port: {{ $svc.protocol }}
{{- end }}
{{- end }}
