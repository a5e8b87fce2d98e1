"""Turn CustomResourceDefinitions into the JSON schemas kubeconform reads, strictly.

Usage: python k8s/crd_to_jsonschema.py OUT_DIR [CRD_FILE_OR_DIR ...]
(default input: $K8S_CRDS_DIR, else ../shared/k8s-crds beside the repository).

Each served version of each CRD becomes OUT_DIR/{group}/{kind}_{version}.json (kind in
lower case), the layout of kubeconform's schema location
'OUT_DIR/{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json'.

The OpenAPI v3 schema is made a strict JSON schema: every object that lists its
properties and neither sets additionalProperties nor keeps unknown fields
(x-kubernetes-preserve-unknown-fields) gets additionalProperties: false, so that a
misspelt field (numberofInstances) fails validation as the API server would prune
or reject it; `nullable: true` becomes a "null" type.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import yaml

try:  # libyaml: the K8ssandra CRD is 2.5 MB
    from yaml import CSafeLoader as SafeLoader
except ImportError:  # pragma: no cover
    from yaml import SafeLoader  # type: ignore[assignment]

REPO_DIR = Path(__file__).resolve().parents[1]


def default_crds_dir() -> Path:
    return Path(os.environ.get("K8S_CRDS_DIR") or REPO_DIR.parent / "shared" / "k8s-crds")


def strict(node: Any) -> Any:
    """A copy of an OpenAPI v3 (structural) schema as a strict JSON schema."""
    if isinstance(node, list):
        return [strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: strict(value) for key, value in node.items()}
    if out.pop("nullable", False) and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    keeps_unknown = out.get("x-kubernetes-preserve-unknown-fields") is True
    if "properties" in out and "additionalProperties" not in out and not keeps_unknown:
        out["additionalProperties"] = False
    return out


def crd_documents(paths: list[Path]) -> list[dict[str, Any]]:
    files: list[Path] = []
    for path in paths:
        files.extend(sorted(path.glob("*.y*ml")) if path.is_dir() else [path])
    docs = []
    for file in files:
        for doc in yaml.load_all(file.read_text(encoding="utf-8"), Loader=SafeLoader):
            if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition":
                docs.append(doc)
    return docs


def convert(crd: dict[str, Any], out_dir: Path) -> list[Path]:
    spec = crd["spec"]
    group, kind = spec["group"], spec["names"]["kind"]
    written = []
    for version in spec["versions"]:
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        if not schema or not version.get("served", True):
            continue
        body = strict(schema)
        # apiVersion and kind are pinned: a resource of another version or kind never matches by accident.
        props = body.setdefault("properties", {})
        props["apiVersion"] = {"type": "string", "enum": [f"{group}/{version['name']}"]}
        props["kind"] = {"type": "string", "enum": [kind]}
        body["required"] = sorted(set(body.get("required", [])) | {"apiVersion", "kind", "metadata"})
        body["$schema"] = "http://json-schema.org/draft-07/schema#"
        body["title"] = f"{kind} ({group}/{version['name']}), strict, from its CRD"
        target = out_dir / group / f"{kind.lower()}_{version['name']}.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(body, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        written.append(target)
    return written


def main(argv: list[str]) -> int:
    if not argv or argv[0] in {"-h", "--help"}:
        print(__doc__.strip())
        return 0 if argv else 2
    out_dir = Path(argv[0])
    sources = [Path(p) for p in argv[1:]] or [default_crds_dir()]
    missing = [str(p) for p in sources if not p.exists()]
    if missing:
        print(
            f"crd_to_jsonschema: error: {', '.join(missing)} not found: set K8S_CRDS_DIR to the folder of the "
            "operators' CRDs (shared/k8s-crds)",
            file=sys.stderr,
        )
        return 2
    crds = crd_documents(sources)
    if not crds:
        print(
            f"crd_to_jsonschema: error: no CustomResourceDefinition in {', '.join(map(str, sources))}",
            file=sys.stderr,
        )
        return 2
    for crd in crds:
        for path in convert(crd, out_dir):
            print(f"  {path.relative_to(out_dir)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
