"""A protocol handler that leaves the cells of result rows as raw bytes.

The driver's default decoding builds one Python object per cell (``UUID``, ``datetime``,
``Date``, ``OrderedMapSerializedKey``), which costs more than the rest of a load. The
scan decodes rows with the driver's own Cython row parser but with every column typed
as ``blob``, so each row is a tuple of ``bytes``/``None``; ``columns`` then turns whole
columns into Arrow arrays at once. Only the scan session uses this handler; prepared
statements and everything else keep their real types.
"""

from __future__ import annotations

from typing import Any, ClassVar

from cassandra import cqltypes
from cassandra.protocol import ProtocolHandler, ResultMessage

try:  # the driver's Cython row parser (present in the binary wheels)
    from cassandra.obj_parser import ListParser
    from cassandra.row_parser import make_recv_results_rows

    _recv_rows = make_recv_results_rows(ListParser())
except ImportError:  # pragma: no cover - pure-Python driver build
    _recv_rows = ResultMessage.recv_results_rows


def as_raw(column_metadata: Any) -> Any:
    if not column_metadata:
        return column_metadata
    return [(ks, table, name, cqltypes.BytesType) for ks, table, name, _ in column_metadata]


class RawResultMessage(ResultMessage):
    """A RESULT whose rows are tuples of raw cell bytes (``None`` for null)."""

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


class RawProtocolHandler(ProtocolHandler):
    """Set as ``session.client_protocol_handler`` on a session used only for scans."""

    message_types_by_opcode = ProtocolHandler.message_types_by_opcode.copy()
    message_types_by_opcode[RawResultMessage.opcode] = RawResultMessage
