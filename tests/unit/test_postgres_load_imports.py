"""What a PostgreSQL load imports: only its own source package and its own subcommand.

The source registry (loaders.load.sources) names the tables from contracts/source_tables.yml
and imports a source package when its extract opens; the CLI imports only the subcommand it
runs. Both are checked in a fresh interpreter (the test process has imported everything).
"""

from __future__ import annotations

import subprocess
import sys

from loaders.cassandra import extracts as cassandra_extracts
from loaders.load.sources import SOURCES
from loaders.postgres import extracts as postgres_extracts


def _modules_after(code: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys\nprint('\\n'.join(sorted(sys.modules)))"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_the_registry_names_the_tables_each_source_package_loads() -> None:
    assert SOURCES["postgres"].tables == postgres_extracts.TABLES
    assert SOURCES["cassandra"].tables == cassandra_extracts.TABLES
    assert "payments" in SOURCES["postgres"].tables


def test_the_load_command_imports_no_source_package_before_its_extract() -> None:
    modules = _modules_after("import loaders.load.command, loaders.load.runner, loaders.load.sources")
    assert "loaders.load.sources" in modules
    assert [m for m in modules if m == "cassandra" or m.startswith(("cassandra.", "loaders.cassandra"))] == []
    assert "loaders.postgres.extracts" not in modules


def test_opening_the_postgres_extract_imports_the_postgres_package_only() -> None:
    modules = _modules_after(
        "from loaders.load.sources import SOURCES\n"
        "try:\n"
        "    SOURCES['postgres'].open_extracts(None)  # imports the package, then fails on the request\n"
        "except AttributeError:\n"
        "    pass"
    )
    assert "loaders.postgres.extracts" in modules
    assert "loaders.cassandra.extracts" not in modules


def test_the_cli_imports_only_the_subcommand_it_runs() -> None:
    modules = _modules_after(
        "from loaders import cli\ntry:\n    cli.main(['load', '--help'])\nexcept SystemExit:\n    pass"
    )
    assert "loaders.load.command" in modules
    assert [
        m for m in modules if m.startswith(("loaders.job", "loaders.ops.serve", "loaders.ops.status"))
    ] == []


def test_the_cli_help_still_lists_every_subcommand() -> None:
    from loaders.cli import SUBCOMMANDS, build_parser, chosen_subcommand

    assert chosen_subcommand(["-v", "load", "--tables", "run"]) == "load"
    assert chosen_subcommand(["--help"]) is None
    assert chosen_subcommand(["nonsense"]) is None
    help_text = build_parser().format_help()
    assert all(name in help_text for name in SUBCOMMANDS)
    assert all(name in build_parser("load").format_help() for name in SUBCOMMANDS)
