"""Helpers of the chart's tests: paths, the tools' command lines, reading rendered manifests."""

from __future__ import annotations

import os
import posixpath
import re
import shutil
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
    kube_score: str
    hadolint: str
    checkov: str
    kube_schemas: str
    crd_schemas: str

    def kubeconform_cmd(self, *files: Path | str) -> list[str]:
        return [
            self.kubeconform,
            "-strict",
            "-summary",
            "-kubernetes-version",
            KUBE_VERSION,
            "-schema-location",
            self.kube_schemas,
            "-schema-location",
            self.crd_schemas,
            *map(str, files),
        ]

    def kube_score_cmd(self, file: Path | str, output: str = "ci") -> list[str]:
        """kube-score as k8s/validate.sh runs it, on one render (one release)."""
        return [
            self.kube_score,
            "score",
            "--kubernetes-version",
            "v" + KUBE_VERSION.rsplit(".", 1)[0],
            "--output-format",
            output,
            "--exit-one-on-warning",
            "--color",
            "never",
            str(file),
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


# ---------------------------------------------------------------------------
# the image: the Dockerfile's instructions and the build context .dockerignore lets in
# ---------------------------------------------------------------------------
def dockerfile_stages(path: Path = ROOT / "Dockerfile") -> list[list[tuple[str, str]]]:
    """The Dockerfile's stages, each a list of (INSTRUCTION, arguments) with continuations joined."""
    stages: list[list[tuple[str, str]]] = []
    logical = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not logical and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            logical += line[:-1] + " "
            continue
        logical += line
        instruction, _, args = logical.partition(" ")
        logical = ""
        if instruction.upper() == "FROM":
            stages.append([])
        stages[-1].append((instruction.upper(), args.strip()))
    return stages


def image_env(stage: list[tuple[str, str]]) -> dict[str, str]:
    """ENV KEY=VALUE pairs of one stage (values without spaces or quotes, as this Dockerfile writes them)."""
    env: dict[str, str] = {}
    for instruction, args in stage:
        if instruction == "ENV":
            for pair in args.split():
                key, _, value = pair.partition("=")
                env[key] = value
    return env


def _docker_pattern(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern as a regex (Go filepath.Match plus '**', as Docker reads it)."""
    out, i = "", 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif char == "*":
            out, i = out + "[^/]*", i + 1
        elif char == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(char), i + 1
    return re.compile(out + r"\Z")


def dockerignore_rules(path: Path = ROOT / ".dockerignore") -> list[tuple[bool, re.Pattern[str]]]:
    rules = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        exception = line.startswith("!")
        pattern = posixpath.normpath(line.lstrip("!").strip().lstrip("/"))
        rules.append((exception, _docker_pattern(pattern)))
    return rules


def in_build_context(relative: str, rules: list[tuple[bool, re.Pattern[str]]]) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parent folders decides."""
    parts = relative.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for exception, pattern in rules:
        if any(pattern.match(prefix) for prefix in prefixes):
            excluded = not exception
    return not excluded


# Folders never walked (they are big); the tests check that the rules exclude them.
UNWALKED = {".git", ".venv", ".stack", "node_modules", "__pycache__", ".pytest_cache"}


def build_context_files(root: Path = ROOT) -> list[str]:
    """The files `COPY . /app` puts in the image, as paths relative to the repository."""
    rules = dockerignore_rules(root / ".dockerignore")
    kept = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in UNWALKED)
        for name in sorted(files):
            relative = (Path(folder) / name).relative_to(root).as_posix()
            if in_build_context(relative, rules):
                kept.append(relative)
    return kept


def image_app_dir(target: Path) -> Path:
    """A copy of /app as the image holds it: the files .dockerignore lets in."""
    for relative in build_context_files():
        (target / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / relative, target / relative)
    return target
