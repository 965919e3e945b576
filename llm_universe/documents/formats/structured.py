"""CSV and JSON loaders: data files written as one line per record or value."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from llm_universe.documents.formats.common import LoadContext, Part, collapse_spaces, read_text
from llm_universe.documents.formats.tables import render_records
from llm_universe.errors import DocumentLoadError

# JSON values deeper than this are written as compact JSON on their parent's line.
_MAX_JSON_DEPTH = 20


def load_csv(path: Path, context: LoadContext) -> list[Part]:
    """Load a CSV file, delimiter detected, as one line per row: "column: value; column: value"."""
    text, _ = read_text(path, context.name)
    try:
        rows = [[collapse_spaces(cell) for cell in row] for row in csv.reader(io.StringIO(text), _csv_dialect(text))]
    except csv.Error as exc:
        raise DocumentLoadError(name=context.name, reason_key="reason.invalid_csv", detail=str(exc)) from exc

    rows = [row for row in rows if any(row)]
    if not rows:
        return []
    return [Part(render_records(rows[0], rows[1:]))]


def load_json(path: Path, context: LoadContext) -> list[Part]:
    """Load a JSON file as text lines.

    A list of flat objects (the usual export of a table) gives one "key: value; key: value" line per
    object. Anything else gives one "path: value" line per string, number or boolean. The path
    joins keys and list indexes ("items[0].title"), and a top-level string is kept as it is.
    Lists of numbers only (token ids, vectors, coordinates) are left out.
    """
    text, _ = read_text(path, context.name)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DocumentLoadError(name=context.name, reason_key="reason.invalid_json", detail=str(exc)) from exc
    except RecursionError as exc:
        raise DocumentLoadError(name=context.name, reason_key="reason.invalid_json", detail="nested too deeply") from exc

    if _is_flat_record_list(value):
        header = list(dict.fromkeys(key for record in value for key in record))
        records = [[_scalar_text(record.get(key)) for key in header] for record in value]
        return [Part(render_records(header, records))]
    return [Part("\n".join(_json_lines(value, "", 0)))]


def _csv_dialect(text: str) -> type[csv.Dialect] | csv.Dialect:
    """Detect the delimiter among comma, semicolon, tab and pipe, defaulting to Excel's comma format."""
    try:
        return csv.Sniffer().sniff(text[:8192], delimiters=",;\t|")
    except csv.Error:
        return csv.excel


def _is_flat_record_list(value: object) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(item, dict) for item in value)
        and all(not isinstance(field, (dict, list)) for item in value for field in item.values())
    )


def _json_lines(value: object, path: str, depth: int) -> list[str]:
    if isinstance(value, dict) and depth < _MAX_JSON_DEPTH:
        return [line for key, item in value.items() for line in _json_lines(item, _join_key(path, str(key)), depth + 1)]
    if isinstance(value, list) and value and all(_is_number(item) for item in value):
        return []
    if isinstance(value, list) and depth < _MAX_JSON_DEPTH:
        return [line for index, item in enumerate(value) for line in _json_lines(item, f"{path}[{index}]", depth + 1)]

    text = _scalar_text(value)
    if not text:
        return []
    return [f"{path}: {text}" if path else text]


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _join_key(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _scalar_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value).strip()
