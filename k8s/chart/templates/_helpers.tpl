{{/* Names, labels and the values every template shares. */}}

{{- define "odp.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "odp.fullname" -}}
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

{{- define "odp.selectorLabels" -}}
app.kubernetes.io/name: {{ include "odp.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "odp.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "odp.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: outings-data-platform
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "odp.serviceAccountName" -}}
{{- include "odp.fullname" . -}}
{{- end -}}

{{/* The image, pinned by digest when one is given. */}}
{{- define "odp.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{/* The data stores' names: the operators name Secrets and Services after them. */}}
{{- define "odp.postgresql.clusterName" -}}
{{- printf "%s-%s" .Values.postgresql.teamId .Values.postgresql.name -}}
{{- end -}}

{{- define "odp.cassandra.clusterName" -}}
{{- .Values.cassandra.name -}}
{{- end -}}

{{/* Zalando names a user's Secret {user}.{cluster}.credentials.postgresql.acid.zalan.do, '_' turned into '-'. */}}
{{- define "odp.postgresql.operatorSecret" -}}
{{- $ := index . 0 -}}{{- $user := index . 1 -}}
{{- printf "%s.%s.credentials.postgresql.acid.zalan.do" ($user | replace "_" "-") (include "odp.postgresql.clusterName" $) -}}
{{- end -}}

{{/* Connection of the loaders to PostgreSQL: host, port, database, Secret and its keys. */}}
{{- define "odp.postgresql.conn" -}}
{{- $pg := .Values.postgresql -}}
{{- if $pg.enabled -}}
host: {{ printf "%s.%s.svc" (include "odp.postgresql.clusterName" .) .Release.Namespace }}
port: {{ 5432 }}
database: {{ $pg.database }}
secretName: {{ default (include "odp.postgresql.operatorSecret" (list . $pg.loaderUser)) $pg.loaderCredentialsSecret.name }}
usernameKey: {{ $pg.loaderCredentialsSecret.usernameKey }}
passwordKey: {{ $pg.loaderCredentialsSecret.passwordKey }}
{{- else -}}
{{- $ext := $pg.external -}}
{{- if not $ext.host }}{{ fail "postgresql.enabled is false: set postgresql.external.host (and postgresql.external.credentialsSecret.name) to the existing database" }}{{ end -}}
{{- if not $ext.credentialsSecret.name }}{{ fail "postgresql.enabled is false: set postgresql.external.credentialsSecret.name to a Secret holding the loaders' read-only user and password" }}{{ end -}}
host: {{ $ext.host }}
port: {{ $ext.port }}
database: {{ $ext.database }}
secretName: {{ $ext.credentialsSecret.name }}
usernameKey: {{ $ext.credentialsSecret.usernameKey }}
passwordKey: {{ $ext.credentialsSecret.passwordKey }}
{{- end }}
{{- /* A CA makes the link verified: require becomes verify-full (verify-ca stays if chosen). */}}
{{- if $pg.tls.caSecret.name }}
caSecretName: {{ $pg.tls.caSecret.name }}
caKey: {{ $pg.tls.caSecret.key }}
sslmode: {{ eq $pg.sslmode "require" | ternary "verify-full" $pg.sslmode }}
{{- else }}
sslmode: {{ $pg.sslmode }}
{{- end }}
{{- end -}}

{{/* Where the pods find the CA certificates (Secret volumes, read-only). */}}
{{- define "odp.tls.dir" -}}/etc/outings/tls{{- end -}}

{{/* The chart's own Secrets: the Cassandra loader role's and the pseudonym key's. */}}
{{- define "odp.cassandra.generatedSecret" -}}
{{- printf "%s-cassandra-loader" (include "odp.fullname" .) -}}
{{- end -}}

{{- define "odp.publish.pseudonymKeySecret" -}}
{{- default (printf "%s-pseudonym-key" (include "odp.fullname" .)) .Values.publish.pseudonymKeySecret.name -}}
{{- end -}}

{{/* A random value generated once: the value already in the live Secret when there is one
(helm install/upgrade look it up), else a new one. `helm template` cannot look up, so a
GitOps tool that renders templates should be given Secrets of your own instead. */}}
{{- define "odp.randomOnce" -}}
{{- $ := index . 0 -}}{{- $secret := index . 1 -}}{{- $key := index . 2 -}}{{- $length := index . 3 -}}
{{- $live := lookup "v1" "Secret" $.Release.Namespace $secret -}}
{{- if and $live (hasKey ($live.data | default dict) $key) -}}
{{- index $live.data $key -}}
{{- else -}}
{{- randAlphaNum $length | b64enc -}}
{{- end -}}
{{- end -}}

{{/* Connection of the loaders to Cassandra. */}}
{{- define "odp.cassandra.conn" -}}
{{- $c := .Values.cassandra -}}
{{- if $c.enabled -}}
hosts: {{ printf "%s-%s-service.%s.svc:9042" (include "odp.cassandra.clusterName" .) $c.datacenter.name .Release.Namespace }}
localDc: {{ $c.datacenter.name }}
secretName: {{ default (include "odp.cassandra.generatedSecret" .) $c.loaderCredentialsSecret.name }}
usernameKey: {{ $c.loaderCredentialsSecret.usernameKey }}
passwordKey: {{ $c.loaderCredentialsSecret.passwordKey }}
{{- if $c.tls.enabled }}
caSecretName: {{ default $c.tls.serverStores.secretName $c.tls.caSecret.name }}
{{- end }}
{{- else -}}
{{- $ext := $c.external -}}
{{- if not $ext.hosts }}{{ fail "cassandra.enabled is false: set cassandra.external.hosts (host[:port],...) to the existing cluster" }}{{ end -}}
{{- if not $ext.credentialsSecret.name }}{{ fail "cassandra.enabled is false: set cassandra.external.credentialsSecret.name to a Secret holding the loaders' read-only role" }}{{ end -}}
hosts: {{ $ext.hosts }}
localDc: {{ $ext.localDc }}
secretName: {{ $ext.credentialsSecret.name }}
usernameKey: {{ $ext.credentialsSecret.usernameKey }}
passwordKey: {{ $ext.credentialsSecret.passwordKey }}
{{- if $c.tls.enabled }}
caSecretName: {{ $c.tls.caSecret.name }}
{{- end }}
{{- end }}
{{- if $c.tls.enabled }}
caKey: {{ $c.tls.caSecret.key }}
hostnameCheck: {{ $c.tls.hostnameCheck }}
{{- end }}
{{- end -}}

{{/* The hardened container security context (Pod Security Standards "restricted"). */}}
{{- define "odp.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
runAsUser: {{ .Values.securityContext.runAsUser }}
runAsGroup: {{ .Values.securityContext.runAsGroup }}
privileged: false
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "odp.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.securityContext.runAsUser }}
runAsGroup: {{ .Values.securityContext.runAsGroup }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* The kube-score/ignore annotation of a pod's resource: the checks given (their reasons are
YAML comments beside the call) and those the values turn off, each after its reason. */}}
{{- define "odp.kubeScoreIgnore" -}}
{{- $ := .ctx -}}
{{- $checks := .checks -}}
{{- if ne $.Values.image.pullPolicy "Always" }}
# container-image-pull-policy: {{ $.Values.image.pullPolicy }} so that an image imported into the node (k3s) is used; image.digest pins the content.
{{- $checks = append $checks "container-image-pull-policy" }}
{{- end }}
{{- if not $.Values.networkPolicy.enabled }}
# pod-networkpolicy: networkPolicy.enabled is false, so the cluster's own NetworkPolicies fence this pod.
{{- $checks = append $checks "pod-networkpolicy" }}
{{- end }}
{{- with $checks }}
kube-score/ignore: {{ join "," . }}
{{- end }}
{{- end -}}

{{/* The claim at /data: the chart's, or an existing one. */}}
{{- define "odp.claimName" -}}
{{- default (printf "%s-data" (include "odp.fullname" .)) .Values.persistence.existingClaim -}}
{{- end -}}

{{/* The release's full name with a suffix, shortened so that the whole fits a limit: a CronJob's
name has at most 52 characters (its Jobs add 11), a Job's 63. (list . suffix limit) */}}
{{- define "odp.nameWith" -}}
{{- $ := index . 0 -}}{{- $suffix := index . 1 -}}{{- $limit := index . 2 -}}
{{- printf "%s%s" (include "odp.fullname" $ | trunc (sub $limit (len $suffix) | int) | trimSuffix "-") $suffix -}}
{{- end -}}
