"""The Dockerfile and its build context, checked without a Docker engine.

No engine is available to build the image here, so its promises are held as facts:
hadolint and checkov find nothing, the base is pinned, the user is the chart's
non-root user, the layout and environment are the ones the chart mounts and sets,
and .dockerignore lets in exactly what the job reads (the dbt project parses from it).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml
from k8s_helpers import (
    CHART,
    ROOT,
    UNWALKED,
    Tools,
    build_context_files,
    dockerfile_stages,
    dockerignore_rules,
    image_app_dir,
    image_env,
    in_build_context,
)

STAGES = dockerfile_stages()
RUNTIME = STAGES[-1]


def instructions(name: str) -> list[str]:
    return [args for instruction, args in RUNTIME if instruction == name]


def test_linters_find_nothing(tools: Tools) -> None:
    hadolint = subprocess.run([tools.hadolint, str(ROOT / "Dockerfile")], capture_output=True, text=True)
    assert hadolint.returncode == 0, hadolint.stdout + hadolint.stderr
    checkov = subprocess.run(
        [
            tools.checkov,
            "-f",
            str(ROOT / "Dockerfile"),
            "--framework",
            "dockerfile",
            "--skip-download",
            "--compact",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert checkov.returncode == 0 and "Failed checks: 0" in checkov.stdout, checkov.stdout[-3000:]


def test_multi_stage_on_a_pinned_slim_base() -> None:
    assert len(STAGES) >= 2
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    for stage in STAGES:
        base = stage[0][1].split()[0]
        assert re.fullmatch(rf"python:{re.escape(python)}\.\d+-slim-[a-z]+(@sha256:[a-f0-9]{{64}})?", base), (
            base
        )
    assert "--from=build" in " ".join(instructions("COPY"))


def test_runs_as_the_charts_non_root_user_with_the_cli_as_entry_point() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    (user,) = instructions("USER")
    uid, _, gid = user.partition(":")
    assert int(uid) == values["securityContext"]["runAsUser"] >= 10000
    assert int(gid) == values["securityContext"]["runAsGroup"]
    assert instructions("ENTRYPOINT") == ['["loaders"]']
    assert instructions("CMD") == ['["run"]']
    assert instructions("WORKDIR") == ["/app"]


def test_layout_and_environment_are_the_ones_the_chart_sets(render: object) -> None:
    env = image_env(RUNTIME)
    cronjob = next(d for d in yaml.safe_load_all(render()) if d and d["kind"] == "CronJob")  # type: ignore[operator]
    pod_env = {
        item["name"]: item["value"]
        for item in cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["env"]
        if "value" in item
    }
    for name in (
        "PROJECT_DIR",
        "WAREHOUSE_PATH",
        "PUBLISHED_DIR",
        "DLT_DATA_DIR",
        "HOME",
        "DBT_TARGET_PATH",
        "DBT_LOG_PATH",
        "DBT_SEND_ANONYMOUS_USAGE_STATS",
        "RUNTIME__DLTHUB_TELEMETRY",
    ):
        assert env[name] == pod_env[name], name
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"  # the root filesystem is read-only
    writable = {"/data", "/tmp"}
    for name in (
        "WAREHOUSE_PATH",
        "PUBLISHED_DIR",
        "DLT_DATA_DIR",
        "HOME",
        "DBT_TARGET_PATH",
        "DBT_LOG_PATH",
    ):
        assert any(env[name] == root or env[name].startswith(root + "/") for root in writable), name


def test_build_context_holds_what_the_job_reads_and_nothing_else() -> None:
    files = set(build_context_files())
    for needed in (
        "pyproject.toml",
        "requirements.lock",
        "README.md",
        "dbt_project.yml",
        "profiles.yml",
        "loaders/cli.py",
        "loaders/job/command.py",
        "loaders/settings.py",
        "contracts/postgres.sql",
        "contracts/cassandra.cql",
        "contracts/source_tables.yml",  # the loaders' registry of source tables (loaders.source_tables)
    ):
        assert needed in files, needed
    # Every folder dbt reads (dbt_project.yml) is in, whole.
    project = yaml.safe_load((ROOT / "dbt_project.yml").read_text())
    rules = dockerignore_rules()
    for key in ("model-paths", "macro-paths", "seed-paths", "analysis-paths", "test-paths", "snapshot-paths"):
        for folder in project.get(key, []):
            source = ROOT / folder
            for path in source.rglob("*") if source.is_dir() else []:
                if path.is_file() and "__pycache__" not in path.parts:
                    assert in_build_context(path.relative_to(ROOT).as_posix(), rules), (
                        f"{path} is not in the image"
                    )
    # Nothing of the local state, the tests or the chart.
    for left_out in (
        ".git/HEAD",
        ".venv/bin/python",
        ".stack/env",
        "tests/unit/x.py",
        "tests/dbt/conftest.py",
        "k8s/chart/Chart.yaml",
        "warehouse/warehouse.duckdb",
        "target/manifest.json",
        "loaders/__pycache__/cli.cpython-311.pyc",
        ".dlt-work/pipelines/x",
        "Makefile",
        "datagen/cli.py",  # the demo data generator is a developer tool, not the product
        "datagen/__init__.py",
    ):
        assert not in_build_context(left_out, rules), left_out
    assert not any(path.startswith("datagen/") for path in files)
    for folder in UNWALKED:
        assert not in_build_context(f"{folder}/anything", rules), folder


def test_dbt_project_parses_from_the_image_layout(tmp_path: Path) -> None:
    """The Dockerfile's `dbt parse`, run on exactly the files the image gets."""
    app = image_app_dir(tmp_path / "app")
    env = {
        **os.environ,
        "PROJECT_DIR": str(app),
        "WAREHOUSE_PATH": str(tmp_path / "parse" / "warehouse.duckdb"),
        "DBT_TARGET_PATH": str(tmp_path / "target"),
        "DBT_LOG_PATH": str(tmp_path / "logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    dbt = Path(sys.executable).parent / "dbt"
    done = subprocess.run(
        [str(dbt), "parse", "--project-dir", str(app), "--profiles-dir", str(app), "--quiet"],
        capture_output=True,
        text=True,
        env=env,
        cwd=app,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert (tmp_path / "target" / "manifest.json").is_file()
    assert not (tmp_path / "parse" / "warehouse.duckdb").exists()  # parsing opens no database


def test_the_roles_hook_script_needs_only_what_the_image_has() -> None:
    """The chart's roles hook runs k8s/chart/files/database_roles.py with the image's Python."""
    import ast

    tree = ast.parse((CHART / "files" / "database_roles.py").read_text(encoding="utf-8"))
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    imported |= {
        node.module.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module
    }
    third_party = imported - set(sys.stdlib_module_names) - {"__future__"}
    assert third_party == {"psycopg2", "cassandra"}, third_party
    import tomllib

    dependencies = " ".join(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"])
    assert "psycopg2" in dependencies and "cassandra-driver" in dependencies


def test_dependencies_come_from_the_hashed_lock() -> None:
    """The build installs exactly requirements.lock, every distribution checked against its hash,
    and the lock pins every runtime dependency of pyproject.toml within its range."""
    import tomllib

    from packaging.requirements import Requirement

    build = STAGES[0]
    runs = [args for instruction, args in build if instruction == "RUN"]
    installs = [r for r in runs if "pip install" in r and "requirements.lock" in r]
    assert installs and all(
        "--require-hashes" in r and "--no-deps" in r and "pip check" in r for r in installs
    ), runs
    assert ("COPY", "requirements.lock ./") in build
    assert not any(
        "pip install --requirement /tmp" in r or "tomllib" in r for r in runs
    )  # no unhashed install left
    project = next(r for r in runs if "--editable ." in r)
    assert (
        "--no-deps" in project and "--no-build-isolation" in project
    )  # the build backend comes from the lock too

    pinned: dict[str, str] = {}
    entries = re.split(r"\n(?=\S)", (ROOT / "requirements.lock").read_text(encoding="utf-8").strip())
    for entry in entries:
        if entry.startswith("#"):
            continue
        requirement = Requirement(entry.split("\\")[0].split(";")[0].strip())
        (spec,) = requirement.specifier
        assert spec.operator == "==", entry[:80]
        assert re.search(r"--hash=sha256:[0-9a-f]{64}", entry), f"{requirement.name} has no hash"
        pinned[requirement.name.lower().replace("_", "-")] = spec.version
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    for dependency in map(Requirement, dependencies):
        name = dependency.name.lower().replace("_", "-")
        assert name in pinned, f"{name} is not in requirements.lock"
        assert dependency.specifier.contains(pinned[name]), (
            f"{name}=={pinned[name]} is outside {dependency.specifier}"
        )
    # the build backend (setuptools) is pinned as well
    assert "setuptools" in pinned
