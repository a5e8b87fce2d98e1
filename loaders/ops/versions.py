"""Versions of the product and of the tools a run used (recorded in ``ops.runs``)."""

from __future__ import annotations

from importlib import metadata

from loaders import __version__


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def tool_versions() -> dict[str, str | None]:
    return {
        "product_version": __version__,
        "dbt_version": _version("dbt-core"),
        "dlt_version": _version("dlt"),
        "duckdb_version": _version("duckdb"),
    }
