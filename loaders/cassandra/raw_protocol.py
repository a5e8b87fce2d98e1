"""A protocol handler that leaves the cells of result rows as raw bytes.

The driver's default decoding builds one Python object per cell (``UUID``, ``datetime``,
``Date``, ``OrderedMapSerializedKey``), which costs more than the rest of a load. The
scan decodes pages with the driver's own Cython column parser (``numpy_parser``) with
every column typed as ``blob``: a page arrives as ``RawColumns``, one list of
``bytes``/``None`` per column, never as row tuples (building a tuple per row and
transposing the page back into columns cost as much as parsing it). ``columns`` then
turns whole columns into Arrow arrays at once. Only the scan session uses this handler;
prepared statements and everything else keep their real types.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

from cassandra import cqltypes
from cassandra.protocol import ProtocolHandler, ResultMessage

Cell = bytes | None

try:  # the driver's Cython column parser (present in the binary wheels, with NumPy)
    from cassandra.numpy_parser import NumpyParser
    from cassandra.row_parser import make_recv_results_rows

    _recv_rows = make_recv_results_rows(NumpyParser())
except ImportError:  # pragma: no cover - pure-Python driver build: rows as tuples
    _recv_rows = ResultMessage.recv_results_rows


class RawColumns:
    """One page of raw cells by column: ``columns[c][r]`` is the cell of column ``c`` in row ``r``.

    ``len`` is the page's row count; iterating (or indexing) gives rows as tuples, for the
    rare paths that work row by row (a quarantined row).
    """

    __slots__ = ("columns", "num_rows")

    def __init__(self, columns: list[list[Cell]], num_rows: int) -> None:
        self.columns = columns
        self.num_rows = num_rows

    def __len__(self) -> int:
        return self.num_rows

    def __iter__(self) -> Iterator[tuple[Cell, ...]]:
        return zip(*self.columns, strict=True)

    def __getitem__(self, index: int) -> tuple[Cell, ...]:
        return tuple(column[index] for column in self.columns)


def as_columns(parsed: Any, column_count: int) -> Any:
    """The numpy parser's ``{name: object array}`` as ``RawColumns`` (anything else as it is)."""
    if not isinstance(parsed, dict):
        return parsed
    arrays = list(parsed.values())
    if len(arrays) != column_count:  # two selected columns of the same name would collapse
        raise RuntimeError(f"the raw scan needs distinct column names ({column_count} selected)")
    return RawColumns([array.tolist() for array in arrays], len(arrays[0]) if arrays else 0)


def as_raw(column_metadata: Any) -> Any:
    if not column_metadata:
        return column_metadata
    return [(ks, table, name, cqltypes.BytesType) for ks, table, name, _ in column_metadata]


class RawResultMessage(ResultMessage):  # type: ignore[misc]  # the driver is untyped
    """A RESULT whose rows are raw cell bytes (``None`` for null), by column (``RawColumns``)."""

    column_metadata: Any  # set by the driver's parsers
    column_names: list[str] | None
    parsed_rows: Any

    code_to_type: ClassVar[dict[Any, Any]] = {v: k for k, v in ResultMessage.type_codes.items()}
    _raw_rows = False

    def recv_results_metadata(self, f: Any, user_type_map: Any) -> None:
        super().recv_results_metadata(f, user_type_map)
        if self._raw_rows and self.column_metadata:
            self.column_metadata = as_raw(self.column_metadata)

    def recv_results_rows(
        self,
        f: Any,
        protocol_version: int,
        user_type_map: Any,
        result_metadata: Any,
        column_encryption_policy: Any,
    ) -> None:
        if column_encryption_policy is not None:
            raise RuntimeError("the raw scan does not support column encryption")
        self._raw_rows = True
        _recv_rows(self, f, protocol_version, user_type_map, as_raw(result_metadata), None)
        self.parsed_rows = as_columns(self.parsed_rows, len(self.column_names or ()))


class RawProtocolHandler(ProtocolHandler):  # type: ignore[misc]  # the driver is untyped
    """Set as ``session.client_protocol_handler`` on a session used only for scans."""

    message_types_by_opcode = ProtocolHandler.message_types_by_opcode.copy()
    message_types_by_opcode[RawResultMessage.opcode] = RawResultMessage
