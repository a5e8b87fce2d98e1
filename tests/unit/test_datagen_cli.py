"""`datagen` says a broken source-table registry in one line and exits 2, as `loaders` does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]
REGISTRY = PROJECT / "contracts" / "source_tables.yml"


def _datagen(project_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PROJECT_DIR": str(project_dir)}
    return subprocess.run(
        [sys.executable, "-m", "datagen.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=PROJECT,
        timeout=120,
    )


def _broken_project(tmp_path: Path, old: str, new: str) -> Path:
    text = REGISTRY.read_text(encoding="utf-8")
    assert old in text, f"the registry no longer holds {old!r}: update this test"
    (tmp_path / "contracts").mkdir()
    (tmp_path / "contracts" / "source_tables.yml").write_text(text.replace(old, new, 1), encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("version: 1", "version: 7", "source_tables.yml: version: expected 1, got int 7"),
        ("\ntables:", "\ntables: [", "is not valid YAML: fix its syntax"),
    ],
    ids=["wrong version", "not YAML"],
)
@pytest.mark.parametrize("args", [("--help",), ("--scale", "0.01", "--reset")], ids=["help", "run"])
def test_a_broken_registry_is_one_line_and_exit_2(
    tmp_path: Path, old: str, new: str, message: str, args: tuple[str, ...]
) -> None:
    done = _datagen(_broken_project(tmp_path, old, new), *args)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("datagen: error: ")
    assert message in lines[0]
    assert "Traceback" not in done.stderr
    assert done.stdout == ""


def test_a_missing_registry_names_where_it_is_looked_for(tmp_path: Path) -> None:
    done = _datagen(tmp_path, "--help")
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1
    assert "restore contracts/source_tables.yml in the project folder" in done.stderr


def test_a_good_registry_gives_the_help(tmp_path: Path) -> None:
    """The same call with the project's own registry works: the failures above come from the file."""
    (tmp_path / "contracts").mkdir()
    (tmp_path / "contracts" / "source_tables.yml").write_text(REGISTRY.read_text(encoding="utf-8"))
    done = _datagen(tmp_path, "--help")
    assert done.returncode == 0, done.stderr
    assert "--scale" in done.stdout
