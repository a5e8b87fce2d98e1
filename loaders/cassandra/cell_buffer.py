"""A page column's raw cells (``bytes`` or ``None``) laid end to end, the way the column converters read them.

Arrow builds the binary array in C (no Python loop per cell); its offsets and data buffer are
read as NumPy arrays. A null cell and an empty cell both have no bytes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa


def cell_buffer(cells: Sequence[bytes | None]) -> tuple[np.ndarray, np.ndarray]:
    """``(offsets, data)``: cell ``i``'s bytes are ``data[offsets[i]:offsets[i + 1]]`` (int64 offsets,
    ``len(cells) + 1`` of them; ``data`` a read-only uint8 view of Arrow's buffer)."""
    joined = pa.array(cells, type=pa.binary())
    offsets = np.frombuffer(joined.buffers()[1], dtype=np.int32, count=len(cells) + 1).astype(np.int64)
    size = int(offsets[-1])
    data = np.frombuffer(joined.buffers()[2], dtype=np.uint8, count=size) if size else np.empty(0, np.uint8)
    return offsets, data
