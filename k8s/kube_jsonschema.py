"""Lay out the Kubernetes JSON schemas that kubernetes-validate ships for kubeconform, offline.

Usage: python k8s/kube_jsonschema.py OUT_DIR KUBE_VERSION   (e.g. 1.35.0)

kubernetes-validate (PyPI) ships, per Kubernetes minor version, one JSON schema per
kind in the file names kubeconform expects ({kind}-{group}-{version}.json), strict
variants included (additionalProperties: false). They point into a shared
'/api/_definitions.json' under an https $id, which kubeconform would try to fetch
from the network. This script writes, for one version, each kind's schema as a
standalone file: the definitions it uses (transitively) copied into its own $defs,
no $id, so that nothing is fetched. Layout: OUT_DIR/v{KUBE_VERSION}-local{,-strict}/,
for kubeconform's schema location
'OUT_DIR/{{ .NormalizedKubernetesVersion }}-local{{ .StrictSuffix }}/{{ .ResourceKind }}{{ .KindSuffix }}.json'.
A layout already made is kept.
"""

from __future__ import annotations

import json
import sys
from importlib import resources
from pathlib import Path
from typing import Any

SHARED_PREFIX = "/api/_definitions.json#/$defs/"
LOCAL_PREFIX = "#/$defs/"


def shipped_dir() -> Path:
    return Path(str(resources.files("kubernetes_validate") / "kubernetes-json-schema"))


def _refs(node: Any, found: set[str]) -> Any:
    """Rewrite shared references to local ones, collecting the definitions' names."""
    if isinstance(node, list):
        return [_refs(item, found) for item in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key == "$ref" and isinstance(value, str) and value.startswith((SHARED_PREFIX, LOCAL_PREFIX)):
            name = value.rsplit("/", 1)[1]
            found.add(name)
            out[key] = LOCAL_PREFIX + name
        else:
            out[key] = _refs(value, found)
    return out


def standalone(schema: dict[str, Any], definitions: dict[str, Any]) -> dict[str, Any]:
    wanted: set[str] = set()
    body = _refs({k: v for k, v in schema.items() if k not in {"$id", "$defs"}}, wanted)
    defs: dict[str, Any] = {}
    pending = sorted(wanted)
    while pending:
        name = pending.pop()
        if name in defs or name not in definitions:
            continue
        more: set[str] = set()
        defs[name] = _refs(definitions[name], more)
        pending.extend(sorted(more - defs.keys()))
    body["$defs"] = defs
    return body


def lay_out(out_dir: Path, version: str) -> list[Path]:
    version = version.removeprefix("v")
    source_root = shipped_dir()
    made = []
    for suffix in ("", "-strict"):
        name = f"v{version}-local{suffix}"
        source, target = source_root / name, out_dir / name
        if not source.is_dir():
            shipped = sorted({p.name.split("-")[0] for p in source_root.iterdir() if p.is_dir()})
            raise SystemExit(
                f"kube_jsonschema: error: kubernetes-validate has no schemas for Kubernetes {version}: "
                f"pick one of {', '.join(shipped)} (KUBE_VERSION) or upgrade kubernetes-validate"
            )
        stamp = target / ".complete"
        if not stamp.exists():
            target.mkdir(parents=True, exist_ok=True)
            definitions = json.loads((source / "_definitions.json").read_text(encoding="utf-8"))["$defs"]
            for file in source.glob("*.json"):
                if file.name in {"_definitions.json", "all.json"}:
                    continue
                schema = json.loads(file.read_text(encoding="utf-8"))
                (target / file.name).write_text(json.dumps(standalone(schema, definitions)), encoding="utf-8")
            stamp.write_text("", encoding="utf-8")
        made.append(target)
    return made


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.strip())
        return 2
    for path in lay_out(Path(argv[0]), argv[1]):
        print(f"  {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
