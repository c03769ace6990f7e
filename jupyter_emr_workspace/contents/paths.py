"""Which files are backed up, and which backup keys may be written back to disk.

A backup key comes from the store, which anyone with access to the bucket can write:
restoring must never write outside the Workspace folder, whatever the key says.
"""

from __future__ import annotations

import os
import re
import unicodedata
from pathlib import Path

#: Percent-encoded dots, slashes, backslashes and NUL: a key that carries them was
#: probably crafted to be decoded into a path somewhere along the way.
_ENCODED = re.compile(r"%(2e|2f|5c|00)", re.IGNORECASE)


def is_skipped(rel: str) -> bool:
    """Hidden files and folders (``.ipynb_checkpoints``, ``.git``, editors' temp files)
    are not backed up: they are local state, often large, and Jupyter hides them."""
    return any(part.startswith(".") for part in rel.split("/"))


def unsafe_reason(rel: str) -> str | None:
    """Why a relative backup path may not be written under the Workspace folder, or None."""
    if not rel:
        return "empty path"
    if "\x00" in rel or any(unicodedata.category(c) == "Cc" for c in rel):
        return "control character or NUL"
    if rel.startswith("/") or re.match(r"^[A-Za-z]:", rel):
        return "absolute path"
    if "\\" in rel:
        return "backslash"
    if _ENCODED.search(rel):
        return "percent-encoded dot, slash or NUL"
    if unicodedata.normalize("NFC", rel) != rel:
        return "not in Unicode normal form C"
    parts = rel.split("/")
    if any(p in {"", ".", ".."} for p in parts):
        return "empty, '.' or '..' segment"
    if len(rel.encode()) > 1024 or any(len(p.encode()) > 255 for p in parts):
        return "too long"
    return None


def safe_target(folder: Path, rel: str) -> Path | None:
    """The local path for ``rel`` inside ``folder``, or None if it would land outside
    (also through a symlink already in the folder)."""
    if unsafe_reason(rel) is not None:
        return None
    root = folder.resolve()
    target = (root / rel).resolve()
    if root not in target.parents:
        return None
    return target


def walk_files(folder: Path) -> dict[str, os.stat_result]:
    """Every non-hidden regular file under ``folder`` (relative POSIX path → stat).

    Blocking: call it in a thread.
    """
    out: dict[str, os.stat_result] = {}
    if not folder.is_dir():
        return out
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        base = Path(dirpath)
        for name in filenames:
            if name.startswith("."):
                continue
            path = base / name
            try:
                st = path.stat(follow_symlinks=False)
            except OSError:
                continue
            if not path.is_symlink() and os.path.isfile(path):
                out[path.relative_to(folder).as_posix()] = st
    return out
