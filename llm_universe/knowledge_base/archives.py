"""Safe extraction of uploaded zip archives.

Archives come from users, so every member is checked before anything is written. Absolute paths,
`..` components, symlinks and nested archives are refused. The number of members, the total
uncompressed size and the compression ratio (zip bombs) are capped.
"""

from __future__ import annotations

import logging
import shutil
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from llm_universe.errors import ArchiveError

logger = logging.getLogger(__name__)

MAX_MEMBERS = 2000
MAX_RATIO = 200  # uncompressed / compressed size of one member; text compresses ~5-10x, bombs 1000x+
ARCHIVE_SUFFIXES = (".zip",)


@dataclass
class ExtractedArchive:
    """Files extracted from one archive: (path on disk, name to show) pairs, and members left out with reasons."""

    files: list[tuple[Path, str]] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)


def is_archive(path: Path) -> bool:
    """Return whether `path` has an archive suffix handled here."""
    return path.suffix.lower() in ARCHIVE_SUFFIXES


def extract_archive(archive: Path, target: Path, max_total_bytes: int, display_name: str | None = None) -> ExtractedArchive:
    """Extract the safe members of a zip `archive` into `target` and return what was extracted.

    Raises ArchiveError when the archive is not a readable zip, has more than MAX_MEMBERS members,
    or would expand beyond `max_total_bytes`. Unsafe single members (path traversal, symlinks, nested
    archives, extreme compression ratio) are skipped with a reason instead.
    """
    name = display_name or archive.name
    try:
        with zipfile.ZipFile(archive) as bundle:
            members = [info for info in bundle.infolist() if not info.is_dir()]
            _check_limits(name, members, max_total_bytes)
            result = ExtractedArchive()
            for info in members:
                reason = _unsafe_reason(info)
                if reason:
                    result.skipped.append({"name": info.filename, "reason": reason})
                    logger.warning("skipped archive member %s of %s: %s", info.filename, name, reason)
                    continue
                result.files.append(_extract_member(bundle, info, target))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, RuntimeError, NotImplementedError, OSError) as error:
        shutil.rmtree(target, ignore_errors=True)
        raise ArchiveError(name=name, reason_key="reason.archive_unreadable", detail=type(error).__name__) from error
    return result


def _check_limits(name: str, members: list[zipfile.ZipInfo], max_total_bytes: int) -> None:
    if len(members) > MAX_MEMBERS:
        raise ArchiveError(name=name, reason_key="reason.archive_too_many", limit=MAX_MEMBERS)
    total = sum(info.file_size for info in members)
    if total > max_total_bytes:
        raise ArchiveError(name=name, reason_key="reason.archive_too_large", limit_mb=max_total_bytes // (1 << 20))


def _unsafe_reason(info: zipfile.ZipInfo) -> str | None:
    path = PurePosixPath(info.filename.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or (path.parts and ":" in path.parts[0]):
        return "path traversal"
    if stat.S_ISLNK(info.external_attr >> 16):
        return "symlink"
    if path.suffix.lower() in ARCHIVE_SUFFIXES:
        return "nested archive"
    if info.compress_size and info.file_size / info.compress_size > MAX_RATIO:
        return "compression ratio too high"
    return None


def _member_name(info: zipfile.ZipInfo) -> str:
    """Return the member's name, re-decoded as GB18030 when the zip did not mark it UTF-8.

    zipfile decodes unflagged names as cp437, but Windows' built-in zip and Chinese tools write them
    in the local code page (GBK), which would otherwise show as 「╓╨╬─」.
    """
    if info.flag_bits & 0x800:
        return info.filename
    try:
        return info.filename.encode("cp437").decode("gb18030")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return info.filename


def _extract_member(bundle: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path) -> tuple[Path, str]:
    """Write one member under `target` with a numbered file name; return (path, display name).

    The display name joins the member's folders with "_" ("docs/a.md" becomes "docs_a.md"), so two
    members with the same base name in different folders stay two files in the knowledge base.
    """
    parts = PurePosixPath(_member_name(info).replace("\\", "/")).parts
    display = "_".join(part for part in parts if part not in {"", "."})
    target.mkdir(parents=True, exist_ok=True)
    destination = target / f"{len(list(target.iterdir())):05d}{PurePosixPath(display).suffix}"
    with bundle.open(info) as source, destination.open("wb") as sink:
        copied = 0
        for block in iter(lambda: source.read(1 << 20), b""):
            copied += len(block)
            if copied > info.file_size:  # a header that lies about the size
                raise zipfile.BadZipFile("member larger than declared")
            sink.write(block)
    return destination, display
