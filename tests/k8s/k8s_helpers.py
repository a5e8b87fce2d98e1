"""Helpers of the chart's tests: paths, the tools' command lines, reading rendered manifests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "k8s" / "chart"
TEST_VALUES = sorted((ROOT / "k8s" / "test-values").glob("*.yaml"))
BROKEN_VALUES = sorted((Path(__file__).parent / "broken").glob("*.yaml"))
KUBE_VERSION = "1.35.0"
RELEASE = NAMESPACE = "projet-m1"


@dataclass(frozen=True)
class Tools:
    helm: str
    kubeconform: str
    kube_linter: str
    hadolint: str
    checkov: str
    kube_schemas: str
    crd_schemas: str

    def kubeconform_cmd(self, *files: Path | str) -> list[str]:
        return [
            self.kubeconform, "-strict", "-summary", "-kubernetes-version", KUBE_VERSION,
            "-schema-location", self.kube_schemas, "-schema-location", self.crd_schemas, *map(str, files),
        ]


def helm_args(tools: Tools, verb: str, values: list[Path], sets: list[str] | None = None) -> list[str]:
    args = [tools.helm, verb]
    if verb == "template":
        args.append(RELEASE)
    args += [str(CHART), "--namespace", NAMESPACE, "--kube-version", KUBE_VERSION]
    if verb == "lint":
        args.append("--strict")
    for file in values:
        args += ["--values", str(file)]
    for item in sets or []:
        args += ["--set", item]
    return args


def documents(manifests: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(manifests) if doc]


def by_kind(manifests: str, kind: str) -> list[dict[str, Any]]:
    return [doc for doc in documents(manifests) if doc["kind"] == kind]


def one(manifests: str, kind: str, name_suffix: str = "") -> dict[str, Any]:
    found = [doc for doc in by_kind(manifests, kind) if doc["metadata"]["name"].endswith(name_suffix)]
    assert len(found) == 1, f"expected one {kind} named *{name_suffix}, found {len(found)}"
    return found[0]
