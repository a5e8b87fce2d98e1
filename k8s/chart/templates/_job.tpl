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
    - name: POSTGRES_DSN
      value: {{ printf "host=%s port=%v dbname=%s user=$(PGUSER) sslmode=%s" $pg.host $pg.port $pg.database $pg.sslmode | quote }}
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
{{- end -}}
