"""Citation markers in answers: remove markers that point at no source, and find the cited passages.

Answers cite sources with numbered markers such as [1], [2] or [1, 3] (also the full-width 【1】).
`CitationFilter` removes the numbers that match no shown source while the answer streams, so the
streamed text and the stored answer are the same. `find_highlights` locates, for each cited source,
the sentence that the citing sentence most overlaps with, as character spans the UI can highlight.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MARKER = re.compile(r"(?P<open>[\[【])(?P<numbers>\d{1,3}(?:\s*[,，、]\s*\d{1,3})*)(?P<close>[\]】])")
# A possibly unfinished marker at the end of streamed text: held back until the next delta decides it.
PARTIAL_MARKER = re.compile(r"[\[【][\d\s,，、]{0,16}$")
SENTENCE = re.compile(r"[^。！？!?；;\n]+[。！？!?；;]*")
# A source sentence must share at least this share of the citing sentence's character bigrams to be highlighted.
MIN_OVERLAP = 0.2


@dataclass(frozen=True)
class Highlight:
    """A cited passage: characters `start` to `end` of the source's text, and the answer sentence citing it."""

    start: int
    end: int
    sentence: str

    def to_dict(self) -> dict:
        """Return the JSON shape stored with the source."""
        return {"start": self.start, "end": self.end, "sentence": self.sentence}


def clean_markers(text: str, valid: set[int]) -> str:
    """Return `text` with citation numbers that are not in `valid` removed (a marker left empty is dropped).

    A marker directly followed by "(" is a Markdown link's text and is left alone.
    """
    def replace(match: re.Match) -> str:
        if text[match.end():match.end() + 1] == "(":
            return match.group(0)
        numbers = [int(number) for number in re.findall(r"\d+", match.group("numbers"))]
        kept = [number for number in numbers if number in valid]
        if kept == numbers:
            return match.group(0)
        if not kept:
            return ""
        return match.group("open") + ", ".join(str(number) for number in kept) + match.group("close")

    cleaned = MARKER.sub(replace, text)
    return re.sub(r"[ \t]+([。，！？；：.,!?;:])", r"\1", cleaned) if cleaned != text else cleaned


def cited_numbers(text: str) -> list[int]:
    """Return the source numbers cited in `text`, in order of first citation."""
    numbers: list[int] = []
    for match in MARKER.finditer(text):
        if text[match.end():match.end() + 1] == "(":
            continue
        for number in re.findall(r"\d+", match.group("numbers")):
            if int(number) not in numbers:
                numbers.append(int(number))
    return numbers


class CitationFilter:
    """Remove invalid citation markers from streamed text; feed deltas, then call `flush` once at the end."""

    def __init__(self, valid: set[int]) -> None:
        self.valid = valid
        self.pending = ""
        self.removed: list[int] = []

    def feed(self, delta: str) -> str:
        """Return the text that can be shown now; a possibly unfinished marker at the end is held back."""
        text = self.pending + delta
        hold = PARTIAL_MARKER.search(text)
        if hold is not None:
            cut = hold.start()
        else:
            # A complete marker at the very end waits for one more character (a "(" makes it a link).
            last = None
            for last in MARKER.finditer(text):
                pass
            cut = last.start() if last is not None and last.end() == len(text) else len(text)
        self.pending = text[cut:]
        return self._clean(text[:cut])

    def flush(self) -> str:
        """Return whatever is still held back, cleaned."""
        text, self.pending = self.pending, ""
        return self._clean(text)

    def _clean(self, text: str) -> str:
        cleaned = clean_markers(text, self.valid)
        if cleaned != text:
            self.removed.extend(number for number in cited_numbers(text) if number not in self.valid)
        return cleaned


def find_highlights(answer: str, source_texts: dict[int, str]) -> dict[int, list[Highlight]]:
    """Return, per cited source number, the spans of its text that the citing answer sentences match.

    For each answer sentence with markers, the source sentence sharing the most character bigrams
    with it is highlighted when the overlap reaches MIN_OVERLAP. An extractive answer quotes source
    sentences verbatim, which gives exact spans.
    """
    highlights: dict[int, list[Highlight]] = {}
    for sentence in _answer_sentences(answer):
        claim = MARKER.sub("", sentence).strip(" >\t")
        for number in cited_numbers(sentence):
            text = source_texts.get(number)
            if not text or not claim:
                continue
            span = _best_span(claim, text)
            if span is not None and all(existing.start != span[0] for existing in highlights.get(number, [])):
                highlights.setdefault(number, []).append(Highlight(span[0], span[1], claim))
    for spans in highlights.values():
        spans.sort(key=lambda highlight: highlight.start)
    return highlights


def _answer_sentences(answer: str) -> list[str]:
    """Split the answer into sentences, keeping the markers that follow a sentence end with that sentence."""
    sentences: list[str] = []
    for match in SENTENCE.finditer(answer):
        piece = match.group(0)
        if sentences and MARKER.fullmatch(piece.strip()) is not None:
            sentences[-1] += piece
        else:
            sentences.append(piece)
    return [sentence for sentence in sentences if sentence.strip()]


def _best_span(claim: str, text: str) -> tuple[int, int] | None:
    compact_claim = _compact(claim)
    if len(compact_claim) >= 6:
        position = text.find(claim.strip())
        if position >= 0:
            return position, position + len(claim.strip())
    claim_grams = _bigrams(claim)
    if not claim_grams:
        return None
    best: tuple[float, int, int] | None = None
    for match in SENTENCE.finditer(text):
        overlap = len(claim_grams & _bigrams(match.group(0))) / len(claim_grams)
        if overlap >= MIN_OVERLAP and (best is None or overlap > best[0]):
            start = match.start() + len(match.group(0)) - len(match.group(0).lstrip())
            best = (overlap, start, match.end())
    return (best[1], best[2]) if best else None


def _compact(text: str) -> str:
    return re.sub(r"[\W_]+", "", text.lower())


def _bigrams(text: str) -> set[str]:
    compact = _compact(text)
    return {compact[i:i + 2] for i in range(len(compact) - 1)}
