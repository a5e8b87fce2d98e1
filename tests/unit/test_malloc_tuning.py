"""glibc's mmap threshold held: a 1 MiB block is still mmapped after one was freed; pyarrow on malloc.

Without the hold, glibc raises its threshold when the first mmapped block is freed and
serves the next 1 MiB block from an arena's heap (where a freed block stays resident).
Each case runs in a fresh interpreter: the setting is per process. glibc marks a chunk it
mmapped with bit 0x2 of the size word just before the pointer malloc returns.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from loaders.malloc_tuning import ENV_VARIABLE, MMAP_THRESHOLD_BYTES

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's malloc only")

PROBE = """
import ctypes, os, sys
from loaders.malloc_tuning import hold_mmap_threshold
held = hold_mmap_threshold() if sys.argv[1] == "hold" else None
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
first = libc.malloc(1 << 20)
libc.free(first)
second = libc.malloc(1 << 20)
mmapped = bool(ctypes.c_size_t.from_address(second - ctypes.sizeof(ctypes.c_size_t)).value & 2)
libc.free(second)
print(held, mmapped, os.environ.get("MALLOC_MMAP_THRESHOLD_"))
"""


def _fresh_python(code: str, *args: str, unset: str, **env: str) -> list[str]:
    """The words ``code`` prints in a new interpreter, ``unset`` removed from its environment."""
    environ = {k: v for k, v in os.environ.items() if k != unset}
    environ.update(env)
    out = subprocess.run(
        [sys.executable, "-c", code, *args], env=environ, capture_output=True, text=True, check=True
    ).stdout
    return out.split()


def _probe(mode: str, **env: str) -> list[str]:
    return _fresh_python(PROBE, mode, unset=ENV_VARIABLE, **env)


def test_without_the_hold_glibc_moves_big_blocks_into_its_heap() -> None:
    assert _probe("plain") == ["None", "False", "None"]  # the behaviour the hold is there for


def test_held_threshold_keeps_big_blocks_mmapped_and_is_exported() -> None:
    assert _probe("hold") == ["True", "True", str(MMAP_THRESHOLD_BYTES)]


def test_a_threshold_set_in_the_environment_is_kept() -> None:
    held, mmapped, value = _probe("hold", **{ENV_VARIABLE: "262144"})
    assert (held, mmapped, value) == ("True", "True", "262144")  # 1 MiB > 256 KiB: mmapped by glibc itself


def test_the_entry_point_holds_it() -> None:
    code = (
        "import os, sys; from loaders import cli; sys.argv = ['loaders', '--version']\n"
        "try:\n    cli.main(['--version'])\nexcept SystemExit:\n    pass\n"
        "print(os.environ.get('MALLOC_MMAP_THRESHOLD_'))"
    )
    assert _fresh_python(code, unset=ENV_VARIABLE)[-1] == str(MMAP_THRESHOLD_BYTES)


POOL_PROBE = """
import pyarrow as pa
from loaders.load.runner import make_pipeline
from loaders.load.sources import SOURCES
import sys, pathlib
before = pa.default_memory_pool().backend_name
make_pipeline(SOURCES["postgres"], pathlib.Path(sys.argv[1]) / "wh.duckdb")
print(before, pa.default_memory_pool().backend_name)
"""


def _pool_probe(tmp_path: Path, **env: str) -> list[str]:
    settings = {"DLT_DATA_DIR": str(tmp_path), "RUNTIME__DLTHUB_TELEMETRY": "false", **env}
    return _fresh_python(POOL_PROBE, str(tmp_path), unset="ARROW_DEFAULT_MEMORY_POOL", **settings)


def test_every_load_makes_pyarrow_allocate_with_malloc(tmp_path: Path) -> None:
    before, after = _pool_probe(tmp_path)
    assert before != "system"  # pyarrow's default (mimalloc or jemalloc): the behaviour this is there for
    assert after == "system"


def test_a_pool_chosen_in_the_environment_is_kept(tmp_path: Path) -> None:
    assert _pool_probe(tmp_path, ARROW_DEFAULT_MEMORY_POOL="jemalloc") == ["jemalloc", "jemalloc"]
