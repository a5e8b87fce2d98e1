"""Fixtures of the chart's tests: the real tools (k8s/validate.sh installs them), the
offline schemas, and rendering the chart with values."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from k8s_helpers import KUBE_VERSION, ROOT, Tools, helm_args


@pytest.fixture(scope="session")
def tools(tmp_path_factory: pytest.TempPathFactory) -> Tools:
    done = subprocess.run(
        ["bash", str(ROOT / "k8s" / "validate.sh"), "--tools"], capture_output=True, text=True, timeout=3000
    )
    if done.returncode != 0:
        pytest.fail(f"k8s/validate.sh --tools failed:\n{done.stderr[-3000:]}")
    paths = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)
    schemas = ROOT / ".stack" / "k8s" / "schemas"
    crds = tmp_path_factory.mktemp("crd-schemas")
    for script, args in (
        ("crd_to_jsonschema.py", [str(crds)]),
        ("kube_jsonschema.py", [str(schemas / "kubernetes"), KUBE_VERSION]),
    ):
        subprocess.run([sys.executable, str(ROOT / "k8s" / script), *args], check=True, capture_output=True)
    return Tools(
        helm=paths["helm"],
        kubeconform=paths["kubeconform"],
        kube_score=paths["kube-score"],
        hadolint=paths["hadolint"],
        checkov=paths["checkov"],
        kube_schemas=str(schemas / "kubernetes")
        + "/{{ .NormalizedKubernetesVersion }}-local{{ .StrictSuffix }}/{{ .ResourceKind }}{{ .KindSuffix }}.json",
        crd_schemas=str(crds) + "/{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json",
    )


Render = Callable[..., str]


@pytest.fixture(scope="session")
def render(tools: Tools) -> Render:
    """helm template with values files (and --set items); the manifests as text, or a failure."""

    def _render(*values: Path, sets: list[str] | None = None) -> str:
        done = subprocess.run(
            helm_args(tools, "template", list(values), sets), capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    return _render
