"""A fingerprint of everything but the data that decides what the dbt build writes.

The published warehouse records it (``ops.publication.project_fingerprint``). A run whose
fingerprint is the published one's may rebuild only what its loads changed
(loaders/job/build_plan.py); any other run builds every model. It hashes the project's
files (models, macros, seeds, singular tests, snapshots, ``dbt_project.yml``), the
``--vars`` of the run, and the versions of dbt-core, dbt-duckdb and DuckDB: a change to
any of them may change a model's rows without a new load.
"""

from __future__ import annotations

import hashlib
from importlib import metadata
from pathlib import Path

from loaders.settings import PROJECT_DIR

# the dbt project's own paths (dbt_project.yml): what a model's rows can depend on besides the data
PROJECT_FOLDERS = ("models", "macros", "seeds", "snapshots", "tests/dbt/singular")
PROJECT_FILES = ("dbt_project.yml",)
ENGINES = ("dbt-core", "dbt-duckdb", "duckdb")
SKIPPED_SUFFIXES = (".pyc",)


def project_fingerprint(vars_yaml: str | None = None, project_dir: Path = PROJECT_DIR) -> str:
    """Hex digest of the project's files, the run's dbt vars and the engines' versions."""
    digest = hashlib.sha256()
    for path in _project_paths(project_dir):
        digest.update(path.relative_to(project_dir).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    digest.update(b"vars\0" + (vars_yaml or "").encode() + b"\0")
    for engine in ENGINES:
        digest.update(f"{engine}=={_version(engine)}\0".encode())
    return digest.hexdigest()[:32]


def _project_paths(project_dir: Path) -> list[Path]:
    paths = [project_dir / name for name in PROJECT_FILES if (project_dir / name).is_file()]
    for folder in PROJECT_FOLDERS:
        root = project_dir / folder
        if root.is_dir():
            paths += (
                p
                for p in root.rglob("*")
                if p.is_file() and "__pycache__" not in p.parts and not p.name.endswith(SKIPPED_SUFFIXES)
            )
    return sorted(paths)


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "absent"
