{{/* Names ---------------------------------------------------------------------------------- */}}

{{- define "switchboard.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* `<release>-<chart>`, or just the release name when it already says the chart's name. */}}
{{- define "switchboard.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "switchboard.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* `<fullname>-<service>[-<suffix>]`. Args: root, service, suffix (optional). */}}
{{- define "switchboard.componentName" -}}
{{- $parts := list (include "switchboard.fullname" .root) .service -}}
{{- with .suffix }}{{ $parts = append $parts . }}{{ end -}}
{{- join "-" $parts | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels ---------------------------------------------------------------------------------
Args: root, service (optional), role (optional: http, worker or migrate). The role keeps a
service's HTTP pods, worker pods and migration pods apart in every selector.
*/}}

{{- define "switchboard.selectorLabels" -}}
app.kubernetes.io/name: {{ include "switchboard.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- with .service }}
app.kubernetes.io/component: {{ . }}
{{- end }}
{{- with .role }}
switchboard.dev/role: {{ . }}
{{- end }}
{{- end -}}

{{- define "switchboard.labels" -}}
helm.sh/chart: {{ include "switchboard.chart" .root }}
{{ include "switchboard.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: switchboard
{{- end -}}

{{/* Images ---------------------------------------------------------------------------------
`<repository>/<service>:<tag>[@<digest>]`. Args: root, service, svc (the service's values).
*/}}
{{- define "switchboard.image" -}}
{{- $override := .svc.image | default dict -}}
{{- $repository := $override.repository | default (printf "%s/%s" .root.Values.image.repository .service) -}}
{{- $tag := $override.tag | default .root.Values.image.tag | default .root.Chart.AppVersion | toString -}}
{{- if eq $tag "latest" -}}
{{- fail (printf "services.%s: the image tag must name a release, not \"latest\"" .service) -}}
{{- end -}}
{{- if $override.digest -}}
{{- printf "%s:%s@%s" $repository $tag $override.digest -}}
{{- else -}}
{{- printf "%s:%s" $repository $tag -}}
{{- end -}}
{{- end -}}

{{/* Settings -------------------------------------------------------------------------------- */}}

{{/*
Deep merge of two maps as YAML: `src` wins key by key. Sprig's mergeOverwrite cannot set a
value to false or 0 over a default, and `enabled: false` must win.
Args: dst, src.
*/}}
{{- define "switchboard.merge" -}}
{{- $dst := deepCopy (.dst | default dict) -}}
{{- range $key, $value := (.src | default dict) -}}
{{- if and (kindIs "map" $value) (kindIs "map" (get $dst $key)) -}}
{{- $_ := set $dst $key (include "switchboard.merge" (dict "dst" (get $dst $key) "src" $value) | fromYaml) -}}
{{- else -}}
{{- $_ := set $dst $key $value -}}
{{- end -}}
{{- end -}}
{{- toYaml $dst -}}
{{- end -}}

{{/* A role's settings: `defaults.<role>` overridden by `services.<name>.<role>`. Args: root, svc, role. */}}
{{- define "switchboard.roleConfig" -}}
{{- include "switchboard.merge" (dict "dst" (index .root.Values.defaults .role) "src" (index .svc .role)) -}}
{{- end -}}

{{/* Which database setting is in force: cnpg, url or existingSecret. */}}
{{- define "switchboard.databaseMode" -}}
{{- $pg := .Values.postgres -}}
{{- if $pg.cnpg.enabled -}}
{{- if not $pg.cnpg.clusterName -}}{{- fail "postgres.cnpg.clusterName is required when postgres.cnpg.enabled" -}}{{- end -}}
cnpg
{{- else if $pg.url -}}
url
{{- else if $pg.existingSecret -}}
existingSecret
{{- else -}}
{{- fail "set postgres.url, postgres.existingSecret or postgres.cnpg" -}}
{{- end -}}
{{- end -}}

{{- define "switchboard.kafkaBootstrapServers" -}}
{{- $strimzi := .Values.kafka.strimzi -}}
{{- if $strimzi.enabled -}}
{{- $strimzi.bootstrapServers | default (printf "%s-kafka-bootstrap.%s.svc:9092" $strimzi.clusterName ($strimzi.namespace | default .Release.Namespace)) -}}
{{- else -}}
{{- required "set kafka.bootstrapServers or kafka.strimzi.enabled" .Values.kafka.bootstrapServers -}}
{{- end -}}
{{- end -}}

{{/*
The non-secret environment of one service, as a YAML map of strings: the ConfigMap's data,
and the migration Job's env (it runs before the ConfigMap exists). Empty values are left out
so the service's own default applies. Args: root, service, svc.
*/}}
{{- define "switchboard.configEnv" -}}
{{- $values := .root.Values -}}
{{- $prefix := printf "SWITCHBOARD_%s_" (upper .service) -}}
{{- $env := dict
  "SWITCHBOARD_KAFKA_BOOTSTRAP_SERVERS" (include "switchboard.kafkaBootstrapServers" .root)
  "SWITCHBOARD_LOG_FORMAT" $values.config.logFormat
  "SWITCHBOARD_LOG_LEVEL" $values.config.logLevel
  "SWITCHBOARD_ENVIRONMENT" $values.config.environment
  "SWITCHBOARD_OTLP_ENDPOINT" $values.config.otlpEndpoint
  (printf "%sHTTP_PORT" $prefix) (toString .svc.httpPort)
  (printf "%sWORKER_PORT" $prefix) (toString .svc.workerPort)
-}}
{{- range $key, $value := merge (deepCopy (.svc.env | default dict)) (deepCopy $values.config.extraEnv) -}}
{{- $_ := set $env $key $value -}}
{{- end -}}
{{- range $key, $value := $env -}}
{{- if not (eq (toString $value) "") }}
{{ $key }}: {{ toString $value | quote }}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The Secret holding the admin key, the credentials key and each service's `secretEnv`. */}}
{{- define "switchboard.secretName" -}}
{{- .Values.secrets.existingSecret | default (include "switchboard.fullname" .) -}}
{{- end -}}

{{/* Whether the chart renders its own Secret: for the generated keys, or for `postgres.url`. */}}
{{- define "switchboard.chartSecretEnabled" -}}
{{- if or (not .Values.secrets.existingSecret) (eq (include "switchboard.databaseMode" .) "url") -}}
true
{{- end -}}
{{- end -}}

{{/* A hash of what the Secret is made from (not of generated values, which change on every render). */}}
{{- define "switchboard.secretChecksum" -}}
{{- list .Values.secrets .Values.postgres | toJson | sha256sum -}}
{{- end -}}

{{/* Secret environment entries of one container. Args: root, svc. */}}
{{- define "switchboard.secretEnv" -}}
{{- $root := .root -}}
{{- $secretName := include "switchboard.secretName" $root -}}
{{- $mode := include "switchboard.databaseMode" $root -}}
- name: SWITCHBOARD_DATABASE_URL
  valueFrom:
    secretKeyRef:
{{- if eq $mode "cnpg" }}
      # CloudNativePG's application Secret; `uri` is a postgresql:// URL, which the services accept.
      name: {{ printf "%s-app" $root.Values.postgres.cnpg.clusterName }}
      key: uri
{{- else if eq $mode "url" }}
      name: {{ include "switchboard.fullname" $root }}
      key: SWITCHBOARD_DATABASE_URL
{{- else }}
      name: {{ $root.Values.postgres.existingSecret }}
      key: {{ $root.Values.postgres.existingSecretKey }}
{{- end }}
{{- range $key := prepend (.svc.secretEnv | default list) "SWITCHBOARD_ADMIN_KEY" | uniq }}
- name: {{ $key }}
  valueFrom:
    secretKeyRef:
      name: {{ $secretName }}
      key: {{ $key }}
{{- end }}
{{- end -}}

{{/* Pods ----------------------------------------------------------------------------------- */}}

{{/* What every pod shares: identity, security, placement. Args: root. */}}
{{- define "switchboard.podSpec" -}}
{{- $values := .root.Values -}}
{{- with $values.serviceAccountName }}
serviceAccountName: {{ . }}
{{- end }}
# No service talks to the Kubernetes API.
automountServiceAccountToken: false
{{- with $values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml $values.podSecurityContext | nindent 2 }}
{{- with $values.defaults.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $values.defaults.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $values.defaults.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* The read-only root filesystem leaves /tmp as the only writable place. */}}
{{- define "switchboard.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: 256Mi
{{- end -}}

{{- define "switchboard.tmpMount" -}}
- name: tmp
  mountPath: /tmp
{{- end -}}
