"""Render table rows as text: Markdown pipe tables for documents, "header: value" records for data files.

Documents (DOCX, HTML, PPTX, EPUB) render their tables as Markdown pipe tables, which the splitter
recognises and splits by rows with the header repeated in every chunk. Data files (CSV, XLSX) render
each row as one "header: value; header: value" line, so every line names its columns on its own.
"""

from __future__ import annotations

from itertools import zip_longest


def render_markdown_table(rows: list[list[str]]) -> str:
    """Render rows as a Markdown pipe table, with the first row as the header.

    Empty rows are dropped. A table with fewer than two rows or fewer than two columns has no
    header to repeat, so its rows are written as plain lines with the cells joined by " | ".
    """
    rows = [row for row in rows if any(row)]
    width = max((len(row) for row in rows), default=0)
    if len(rows) < 2 or width < 2:
        return "\n".join(" | ".join(cell for cell in row if cell) for row in rows)

    padded = [row + [""] * (width - len(row)) for row in rows]
    lines = [_pipe_row(padded[0]), "| " + " | ".join("---" for _ in range(width)) + " |"]
    lines.extend(_pipe_row(row) for row in padded[1:])
    return "\n".join(lines)


def render_records(header: list[str], records: list[list[str]]) -> str:
    """Render each record as one line "column: value; column: value", skipping empty values.

    A value in a column without a name is written alone. Without records, the header line is
    returned, so a table with column names only is not lost.
    """
    if not records:
        return "; ".join(cell for cell in header if cell)
    return "\n".join(line for line in (render_record(header, record) for record in records) if line)


def render_record(header: list[str], record: list[str]) -> str:
    """Render one record as "column: value; column: value"."""
    fields = []
    for column, value in zip_longest(header, record, fillvalue=""):
        if value:
            fields.append(f"{column}: {value}" if column else value)
    return "; ".join(fields)


def _pipe_row(cells: list[str]) -> str:
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"
