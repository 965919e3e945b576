"""Checks shared by the Office Open XML loaders (DOCX, XLSX, PPTX)."""

from __future__ import annotations

from pathlib import Path

# Office saves a password-protected DOCX, XLSX or PPTX as an OLE compound file (the format of old .doc
# files) that contains a stream named "EncryptedPackage".
_OLE_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ENCRYPTED_PACKAGE = "EncryptedPackage".encode("utf-16-le")


def is_encrypted_office_file(path: Path) -> bool:
    """Return whether `path` is a password-protected Office file."""
    try:
        data = path.read_bytes()
    except OSError:
        return False
    return data.startswith(_OLE_SIGNATURE) and _ENCRYPTED_PACKAGE in data
