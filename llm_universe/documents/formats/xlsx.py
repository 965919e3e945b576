"""XLSX loader: one Part per worksheet, each row written as "header: value; header: value".

Cells give their values, never formulas: openpyxl reads the value Excel cached when it last saved the
file. A vertically merged cell repeats its value in every row it spans, so each row line is complete.
"""

from __future__ import annotations

import datetime
import zipfile
from pathlib import Path

from llm_universe.documents.formats.common import LoadContext, Part, collapse_spaces
from llm_universe.documents.formats.office import is_encrypted_office_file
from llm_universe.documents.formats.tables import render_records
from llm_universe.errors import DocumentLoadError


def load_xlsx(path: Path, context: LoadContext) -> list[Part]:
    """Load every worksheet as a Part with the `sheet` metadata entry; the text starts with "# <sheet>".

    Rows above the header that hold a single cell (a title spanning the sheet) become plain lines,
    and so do header cells whose column has no values (a note placed beside the header).
    """
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        # NOTE: a formula in a file written by a program that does not cache results (openpyxl
        # itself, some exporters) has no cached value and is read as an empty cell.
        workbook = openpyxl.load_workbook(path, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError) as exc:
        if is_encrypted_office_file(path):
            raise DocumentLoadError("error.file_encrypted", name=context.name) from exc
        raise DocumentLoadError(name=context.name, reason_key="reason.invalid_xlsx") from exc

    try:
        return [_sheet_part(sheet) for sheet in workbook.worksheets]
    finally:
        workbook.close()


def _sheet_part(sheet) -> Part:
    rows = [row for row in _sheet_rows(sheet) if any(row)]
    width = max((sum(1 for cell in row if cell) for row in rows), default=0)
    lines = []
    while rows and width > 1 and sum(1 for cell in rows[0] if cell) == 1:
        lines.append(next(cell for cell in rows[0] if cell))
        rows = rows[1:]

    if rows:
        header, records = rows[0], rows[1:]
        used = {index for record in records for index, value in enumerate(record) if value}
        lines.extend(cell for index, cell in enumerate(header) if cell and records and index not in used)
        lines.append(render_records(header, records))

    body = "\n".join(line for line in lines if line)
    return Part(f"# {sheet.title}\n\n{body}" if body else "", metadata={"sheet": sheet.title})


def _sheet_rows(sheet) -> list[list[str]]:
    grid = [[format_cell(value) for value in row] for row in sheet.iter_rows(values_only=True)]
    for merged in sheet.merged_cells.ranges:
        column = merged.min_col - 1
        value = grid[merged.min_row - 1][column] if merged.min_row <= len(grid) else ""
        for row in range(merged.min_row, min(merged.max_row, len(grid))):
            grid[row][column] = value
    return grid


def format_cell(value: object) -> str:
    """Format a cell value as Excel shows it by default: 12 not 12.0, TRUE, 2024-01-31."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, datetime.datetime):
        return value.date().isoformat() if value.time() == datetime.time() else value.isoformat(sep=" ")
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    return collapse_spaces(str(value))
