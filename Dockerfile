# syntax=docker/dockerfile:1
# The pipeline's image: the `loaders` CLI (dlt loaders, dbt, the whole job) and the
# dbt project, run as a non-root user on a read-only root filesystem.
#
#   docker build -t outings-data-platform:0.1.0 .
#   docker run --rm outings-data-platform:0.1.0 --help
#
# Layout: the project (dbt_project.yml, profiles.yml, models, macros, seeds, analyses,
# dbt tests, the parsed manifest in /app/target) at /app, read-only; state on a volume
# at /data (the DuckDB warehouse, dlt's working directory, the published warehouse and
# docs); scratch in /tmp (HOME, dbt's target and logs). The Helm chart (k8s/chart) mounts /data and /tmp; nothing else is
# written.
#
# The base is pinned by tag only (Python 3.11 as in CI, Debian 13), not by digest: no
# container registry (Docker Hub included) is reachable from this project's machines and
# CI, so the digest of python:3.11.14-slim-trixie cannot be read or checked here, and a
# digest copied from elsewhere unchecked would be a guess, not a pin. Where a registry is at
# hand, read it (`docker buildx imagetools inspect python:3.11.14-slim-trixie`) and pin both
# stages: FROM python:3.11.14-slim-trixie@sha256:<digest> (tests/k8s accepts either form);
# the chart pins the built image by digest with image.digest.

# ---------------------------------------------------------------------------
# build: a virtualenv with the dependencies, then the project installed from /app
# ---------------------------------------------------------------------------
FROM python:3.11.14-slim-trixie AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/venv/bin:$PATH
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN python -m venv /opt/venv
WORKDIR /app
# Dependencies first, from the hashed lock alone (a code change keeps this layer): exactly
# the distributions requirements.lock pins, each checked against its sha256 (--require-hashes;
# --no-deps: nothing outside the lock is resolved or fetched), then `pip check` fails the build
# if the lock misses a dependency or holds two that disagree. (`make lock` resolves it for
# CPython 3.11 on x86_64 manylinux: build for linux/amd64, e.g. `docker build --platform linux/amd64 .`)
COPY requirements.lock ./
RUN pip install --require-hashes --no-deps --requirement requirements.lock \
    && pip check
# The project (.dockerignore lets only what the job needs in), installed in place at /app,
# built with the lock's setuptools (no build isolation: nothing unhashed is downloaded).
COPY . ./
# The demo data generator (datagen/) is not in the context: its console script is dropped too.
RUN pip install --no-deps --no-build-isolation --editable . \
    && rm -f /opt/venv/bin/datagen \
    && pip check \
    && python -m compileall -q /app/loaders \
    && loaders --help > /dev/null
# The dbt project must parse in the image's layout (no database is opened); its
# manifest stays in the image at /app/target (runs write theirs to /data/dbt/target).
RUN WAREHOUSE_PATH=/tmp/dbt-parse/warehouse.duckdb DBT_TARGET_PATH=/app/target DBT_LOG_PATH=/tmp/dbt-parse/logs \
    DBT_SEND_ANONYMOUS_USAGE_STATS=false dbt parse --project-dir /app --profiles-dir /app --quiet \
    && rm -rf /tmp/dbt-parse /app/target/partial_parse.msgpack /app/target/perf_info.json

# ---------------------------------------------------------------------------
# runtime: the virtualenv and the project, a non-root user, no build tools
# ---------------------------------------------------------------------------
FROM python:3.11.14-slim-trixie AS runtime
LABEL org.opencontainers.image.title="outings-data-platform" \
      org.opencontainers.image.description="Extract-load of the outings app's PostgreSQL and Cassandra into DuckDB (dlt), dbt marts, docs" \
      org.opencontainers.image.version="0.1.0"
RUN groupadd --system --gid 10001 loaders \
    && useradd --system --uid 10001 --gid loaders --home-dir /tmp --no-create-home --shell /usr/sbin/nologin loaders \
    && mkdir -p /data \
    && chown loaders:loaders /data
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app
# MALLOC_MMAP_THRESHOLD_: glibc keeps serving blocks of 128 KiB or more with mmap (returned to the
# OS when freed) instead of raising its threshold and keeping freed blocks in per-thread arenas,
# whose resident share varied run to run (a 1 MiB-text extract: 412-449 MB, 522 MB in CI, against
# 300 MB every run held). `loaders` sets it itself too (loaders/malloc_tuning.py).
ENV PATH=/opt/venv/bin:$PATH \
    MALLOC_MMAP_THRESHOLD_=131072 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PROJECT_DIR=/app \
    WAREHOUSE_PATH=/data/warehouse/warehouse.duckdb \
    PUBLISHED_DIR=/data/published \
    DLT_DATA_DIR=/data/dlt \
    HOME=/tmp \
    DBT_TARGET_PATH=/data/dbt/target \
    DBT_LOG_PATH=/tmp/dbt/logs \
    DBT_SEND_ANONYMOUS_USAGE_STATS=false \
    RUNTIME__DLTHUB_TELEMETRY=false
WORKDIR /app
USER 10001:10001
# A batch CLI: the orchestrator (the CronJob's deadlines) watches it, not a health check.
HEALTHCHECK NONE
ENTRYPOINT ["loaders"]
CMD ["run"]
