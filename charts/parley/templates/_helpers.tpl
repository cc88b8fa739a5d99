{{/* The name of one service's objects: <release>-<service>. */}}
{{- define "parley.name" -}}
{{- printf "%s-%s" .root.Release.Name .service | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "parley.labels" -}}
app.kubernetes.io/name: {{ .service }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/part-of: parley
app.kubernetes.io/version: {{ .root.Values.image.tag | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{- end -}}

{{- define "parley.selector" -}}
app.kubernetes.io/name: {{ .service }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end -}}

{{/* parley-<target>:<tag> in the pipeline's registry; both are required. */}}
{{- define "parley.image" -}}
{{- $registry := required "image.registry is required" .root.Values.image.registry -}}
{{- $tag := required "image.tag is required (the commit the images were built from)" .root.Values.image.tag -}}
{{- printf "%s/parley-%s:%s" $registry .target $tag -}}
{{- end -}}

{{/* The settings of a process that uses the given stores: addresses as values, secrets as files. */}}
{{- define "parley.storeEnv" -}}
{{- $v := .root.Values -}}
- name: PARLEY_ENV
  value: {{ $v.environment | quote }}
{{- if has "kafka" .stores }}
- name: KAFKA_BROKERS
  value: {{ required "kafka.brokers is required" $v.kafka.brokers | quote }}
- name: TOPIC_PREFIX
  value: {{ $v.kafka.topicPrefix | quote }}
{{- end }}
{{- if has "schemaRegistry" .stores }}
- name: SCHEMA_REGISTRY_URL
  value: {{ required "schemaRegistry.url is required" $v.schemaRegistry.url | quote }}
- name: SCHEMA_REGISTRY_USERNAME
  value: {{ required "schemaRegistry.username is required" $v.schemaRegistry.username | quote }}
{{- end }}
{{- if has "postgres" .stores }}
- name: POSTGRES_URL
  value: {{ required "postgres.url is required" $v.postgres.url | quote }}
{{- end }}
{{- if has "mongodb" .stores }}
- name: MONGO_URL
  value: {{ required "mongodb.url is required" $v.mongodb.url | quote }}
{{- end }}
{{- if has "redis" .stores }}
- name: REDIS_URL
  value: {{ required "redis.url is required" $v.redis.url | quote }}
{{- end }}
{{- range .secrets }}
- name: {{ . }}_FILE
  value: /var/run/secrets/parley/{{ . }}
{{- end }}
{{- end -}}

{{/* Pod and container hardening, the same for every pod. */}}
{{- define "parley.podSecurity" -}}
runAsNonRoot: true
runAsUser: 1000
runAsGroup: 1000
fsGroup: 1000
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "parley.containerSecurity" -}}
readOnlyRootFilesystem: true
allowPrivilegeEscalation: false
privileged: false
capabilities:
  drop: [ALL]
{{- end -}}

{{/* The Secret's keys a pod reads, mounted read-only as files. */}}
{{- define "parley.secretVolume" -}}
- name: secrets
  secret:
    secretName: {{ .root.Values.secrets.name }}
    defaultMode: 0400
    items:
      {{- range .secrets }}
      - key: {{ . }}
        path: {{ . }}
      {{- end }}
{{- end -}}

{{/* name=http://<release>-<service>:<port>,... : the other services, for readiness probes (STATUS_PROBES, OPS_PROBES). */}}
{{- define "parley.serviceUrls" -}}
{{- $root := .root -}}
{{- $urls := list -}}
{{- range $name, $svc := .root.Values.services -}}
{{- if ne $name $.except -}}
{{- $urls = append $urls (printf "%s=http://%s:%v" $name (include "parley.name" (dict "root" $root "service" $name)) $svc.port) -}}
{{- end -}}
{{- end -}}
{{- join "," $urls -}}
{{- end -}}
