"""Order data in JSON Lines: checking a line (``check_record``), importing a file into the
embedded database (``import_lines``), generating synthetic orders (``generate``). The format
is published as JSON Schema in ``order-data.schema.json`` (``SCHEMA_PATH``)."""

from __future__ import annotations

from pathlib import Path

from ._generate import catalogue_size, generate, order_id
from ._import import MAX_LINE_BYTES, ImportError_, ImportResult, import_lines
from ._records import RecordError, check_record

__all__ = [
    "MAX_LINE_BYTES",
    "SCHEMA_PATH",
    "ImportError_",
    "ImportResult",
    "RecordError",
    "catalogue_size",
    "check_record",
    "generate",
    "import_lines",
    "order_id",
]

SCHEMA_PATH = Path(__file__).with_name("order-data.schema.json")
