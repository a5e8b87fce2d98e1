{{/* One step of the run: the image's `loaders` CLI (or any command) with the pipeline's environment. */}}
{{- define "odp.job.container" -}}
{{- $ := .ctx -}}
{{- $pg := .pg -}}
{{- $cass := .cass -}}
- name: {{ .step.name }}
  image: {{ include "odp.image" $ }}
  imagePullPolicy: {{ $.Values.image.pullPolicy }}
  command:
    {{- toYaml .step.command | nindent 4 }}
  env:
    # The image's layout: the project (dbt files, analyses) read-only at /app, state on the claim at /data.
    - name: PROJECT_DIR
      value: /app
    - name: WAREHOUSE_PATH
      value: /data/warehouse/warehouse.duckdb
    - name: PUBLISHED_DIR
      value: /data/published
    - name: DLT_DATA_DIR
      value: /data/dlt
    # The root filesystem is read-only: HOME and dbt's logs go to /tmp (an emptyDir). dbt's
    # target lives on the claim: its partial_parse.msgpack lets the next run skip a full
    # parse of the project (dbt re-parses what changed, all of it after an image upgrade).
    - name: HOME
      value: /tmp
    - name: DBT_TARGET_PATH
      value: /data/dbt/target
    - name: DBT_LOG_PATH
      value: /tmp/dbt/logs
    - name: DBT_SEND_ANONYMOUS_USAGE_STATS
      value: "false"
    - name: RUNTIME__DLTHUB_TELEMETRY
      value: "false"
    # PostgreSQL: libpq reads PGUSER and PGPASSWORD; the DSN itself holds no secret.
    - name: PGUSER
      valueFrom:
        secretKeyRef:
          name: {{ $pg.secretName }}
          key: {{ $pg.usernameKey }}
    - name: PGPASSWORD
      valueFrom:
        secretKeyRef:
          name: {{ $pg.secretName }}
          key: {{ $pg.passwordKey }}
    - name: PGSSLMODE
      value: {{ $pg.sslmode | quote }}
    {{- if $pg.caSecretName }}
    # The server's certificate is verified against this CA (a Secret, mounted read-only).
    - name: PGSSLROOTCERT
      value: {{ printf "%s/postgresql/ca.crt" (include "odp.tls.dir" $) | quote }}
    - name: POSTGRES_DSN
      value: {{ printf "host=%s port=%v dbname=%s user=$(PGUSER) sslmode=%s sslrootcert=%s/postgresql/ca.crt" $pg.host $pg.port $pg.database $pg.sslmode (include "odp.tls.dir" $) | quote }}
    {{- else }}
    - name: POSTGRES_DSN
      value: {{ printf "host=%s port=%v dbname=%s user=$(PGUSER) sslmode=%s" $pg.host $pg.port $pg.database $pg.sslmode | quote }}
    {{- end }}
    # Cassandra.
    - name: CASSANDRA_HOSTS
      value: {{ $cass.hosts | quote }}
    - name: CASSANDRA_LOCAL_DC
      value: {{ $cass.localDc | quote }}
    - name: CASSANDRA_KEYSPACE
      value: {{ $.Values.cassandra.keyspace | quote }}
    - name: CASSANDRA_USERNAME
      valueFrom:
        secretKeyRef:
          name: {{ $cass.secretName }}
          key: {{ $cass.usernameKey }}
    - name: CASSANDRA_PASSWORD
      valueFrom:
        secretKeyRef:
          name: {{ $cass.secretName }}
          key: {{ $cass.passwordKey }}
    {{- if $cass.caSecretName }}
    # TLS to Cassandra, the nodes' certificates verified against this CA (a Secret, mounted read-only).
    - name: CASSANDRA_SSL_CA_FILE
      value: {{ printf "%s/cassandra/ca.crt" (include "odp.tls.dir" $) | quote }}
    - name: CASSANDRA_SSL_HOSTNAME_CHECK
      value: {{ $cass.hostnameCheck | quote }}
    {{- end }}
    # The key of the pseudonyms that replace personal data in the published warehouse.
    - name: PUBLISH_PSEUDONYM_KEY
      valueFrom:
        secretKeyRef:
          name: {{ include "odp.publish.pseudonymKeySecret" $ }}
          key: {{ $.Values.publish.pseudonymKeySecret.key }}
    {{- with $.Values.job.extraEnv }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  securityContext:
    {{- include "odp.containerSecurityContext" $ | nindent 4 }}
  resources:
    {{- toYaml $.Values.job.resources | nindent 4 }}
  volumeMounts:
    - name: data
      mountPath: /data
    - name: tmp
      mountPath: /tmp
    {{- with include "odp.tls.mounts" (dict "pg" $pg "cass" $cass "ctx" $) | trim }}
    {{- . | nindent 4 }}
    {{- end }}
{{- end -}}

{{/* The CA certificates' mounts and volumes (read-only Secret volumes holding ca.crt alone). */}}
{{- define "odp.tls.mounts" -}}
{{- if .pg.caSecretName }}
- name: postgresql-ca
  mountPath: {{ include "odp.tls.dir" .ctx }}/postgresql
  readOnly: true
{{- end }}
{{- if .cass.caSecretName }}
- name: cassandra-ca
  mountPath: {{ include "odp.tls.dir" .ctx }}/cassandra
  readOnly: true
{{- end }}
{{- end -}}

{{- define "odp.tls.volumes" -}}
{{- if .pg.caSecretName }}
- name: postgresql-ca
  secret:
    secretName: {{ .pg.caSecretName }}
    defaultMode: 0444
    items:
      - key: {{ .pg.caKey }}
        path: ca.crt
{{- end }}
{{- if .cass.caSecretName }}
- name: cassandra-ca
  secret:
    secretName: {{ .cass.caSecretName }}
    defaultMode: 0444
    items:
      - key: {{ .cass.caKey }}
        path: ca.crt
{{- end }}
{{- end -}}

{{/* The pod of a pipeline Job (a run's steps, or the deep reconciliation): the claim at /data,
an emptyDir at /tmp, the CAs, one writer's identity and fence (component: pipeline). */}}
{{- define "odp.job.podTemplate" -}}
{{- $ := .ctx -}}
{{- $steps := .steps -}}
{{- $pg := include "odp.postgresql.conn" $ | fromYaml -}}
{{- $cass := include "odp.cassandra.conn" $ | fromYaml -}}
{{- $last := sub (len $steps) 1 | int -}}
metadata:
  labels:
    {{- include "odp.selectorLabels" $ | nindent 4 }}
    app.kubernetes.io/component: pipeline
    outings.example/task: {{ .task }}
spec:
  restartPolicy: Never
  serviceAccountName: {{ include "odp.serviceAccountName" $ }}
  automountServiceAccountToken: false
  enableServiceLinks: false
  terminationGracePeriodSeconds: {{ $.Values.job.terminationGracePeriodSeconds }}
  securityContext:
    {{- include "odp.podSecurityContext" $ | nindent 4 }}
    fsGroup: {{ $.Values.securityContext.runAsGroup }}
    fsGroupChangePolicy: OnRootMismatch
  {{- with $.Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $.Values.job.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $.Values.job.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- if and $.Values.docs.enabled (eq $.Values.persistence.accessMode "ReadWriteOnce") }}
  # The claim is ReadWriteOnce and the docs server holds it: run on the docs server's node.
  affinity:
    podAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
        - topologyKey: kubernetes.io/hostname
          labelSelector:
            matchLabels:
              {{- include "odp.selectorLabels" $ | nindent 14 }}
              app.kubernetes.io/component: docs
  {{- end }}
  {{- if gt (len $steps) 1 }}
  initContainers:
  {{- range $i, $step := $steps }}
  {{- if lt $i $last }}
    {{- include "odp.job.container" (dict "ctx" $ "step" $step "pg" $pg "cass" $cass) | nindent 4 }}
  {{- end }}
  {{- end }}
  {{- end }}
  containers:
    {{- include "odp.job.container" (dict "ctx" $ "step" (index $steps $last) "pg" $pg "cass" $cass) | nindent 4 }}
  volumes:
    - name: data
      persistentVolumeClaim:
        claimName: {{ include "odp.claimName" $ }}
    - name: tmp
      emptyDir:
        sizeLimit: {{ $.Values.job.tmpSizeLimit }}
    {{- with include "odp.tls.volumes" (dict "pg" $pg "cass" $cass) | trim }}
    {{- . | nindent 4 }}
    {{- end }}
{{- end -}}

{{/* The annotations of a pipeline CronJob: each skipped check with its reason. */}}
{{- define "odp.job.annotations" -}}
checkov.io/skip1: CKV_K8S_43=Pinned by digest when image.digest is set; an image imported into k3s has no registry digest.
checkov.io/skip2: CKV_K8S_15=IfNotPresent so that an image imported into the node is used; image.digest pins the content.
checkov.io/skip3: CKV_K8S_35=libpq (PGPASSWORD) and the loaders read credentials from the environment; no value is ever logged.
# kube-score: the optional checks this pod is held to as well.
kube-score/enable: container-seccomp-profile,container-ports-check
{{- with include "odp.kubeScoreIgnore" (dict "ctx" . "checks" list) | trim }}
# kube-score checks the values turn off here, each with its reason:
{{- . | nindent 0 }}
{{- end }}
{{- end -}}
