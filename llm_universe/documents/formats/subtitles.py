"""SRT and WebVTT loader: cue text without timestamps, with the timestamps kept for the splitter.

The text has one line per cue. The `cues` metadata entry lists (start, end) for every line, as
"HH:MM:SS.mmm" strings. The splitter turns it into the `start` and `end` of the first cue in each
chunk. Lines, unlike character offsets, survive text cleaning.
"""

from __future__ import annotations

import re
from pathlib import Path

from llm_universe.documents.formats.common import LoadContext, Part, read_text
from llm_universe.errors import DocumentLoadError

_TIMING = re.compile(
    r"^\s*(?P<start>(?:\d+:)?\d{1,2}:\d{2}[.,]\d{1,3})\s*-->\s*(?P<end>(?:\d+:)?\d{1,2}:\d{2}[.,]\d{1,3})"
)
_TAG = re.compile(r"</?[a-zA-Z][^>]*>|\{\\[^}]*\}")  # <i>, <c.yellow>, <v Speaker>, and ASS overrides {\an8}
_VTT_BLOCKS = ("NOTE", "STYLE", "REGION")


def load_subtitles(path: Path, context: LoadContext) -> list[Part]:
    """Load an .srt or .vtt file as one Part whose lines are the cue texts.

    Raises DocumentLoadError with reason "reason.invalid_subtitles" when no cue has a timing line.
    """
    text, _ = read_text(path, context.name)
    cues = parse_cues(text)
    if not cues and text.strip():
        raise DocumentLoadError(name=context.name, reason_key="reason.invalid_subtitles")

    timings = [(start, end) for start, end, _ in cues]
    metadata: dict[str, object] = {"cues": timings}
    if timings:
        metadata.update(start=timings[0][0], end=timings[0][1])
    return [Part("\n".join(cue_text for _, _, cue_text in cues), metadata=metadata)]


def parse_cues(text: str) -> list[tuple[str, str, str]]:
    """Return (start, end, text) for every cue with text, timestamps normalised to "HH:MM:SS.mmm"."""
    cues = []
    for block in re.split(r"\n[ \t]*\n", text.lstrip("\ufeff")):
        lines = block.strip("\n").split("\n")
        timing_index = next((index for index, line in enumerate(lines) if _TIMING.match(line)), None)
        if timing_index is None or lines[0].startswith(_VTT_BLOCKS):
            continue

        match = _TIMING.match(lines[timing_index])
        cue_text = " ".join(_TAG.sub("", line).strip() for line in lines[timing_index + 1:])
        cue_text = cue_text.strip()
        if cue_text:
            cues.append((normalize_timestamp(match["start"]), normalize_timestamp(match["end"]), cue_text))
    return cues


def normalize_timestamp(value: str) -> str:
    """Write an SRT ("00:00:01,000") or WebVTT ("00:01.000") timestamp as "HH:MM:SS.mmm"."""
    clock, fraction = re.split(r"[.,]", value)
    fields = [int(field) for field in clock.split(":")]
    if len(fields) == 2:
        fields.insert(0, 0)
    hours, minutes, seconds = fields
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}.{fraction.ljust(3, '0')[:3]}"
