"""Output-file safety: where the package may write, and writing without half-written files.

Every file the package writes goes to a temporary name in the same folder first and is
renamed into place (:func:`atomic_write`); output folders and files are checked before any
work starts, with errors that name the argument and the path.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def check_output_folder(path: str | os.PathLike, argument: str = "out") -> Path:
    """``path`` as a folder the package may write into (it may not exist yet), or a
    ``ValueError`` naming ``argument``, the path and what is wrong with it."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(f"{argument} {str(path)!r} is a file; give a folder (new or existing)")
    existing = path
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise ValueError(
            f"{argument} {str(path)!r} lies under {str(existing)!r}, which is a file; give a "
            f"folder path"
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"{argument} {str(path)!r}: the folder {str(existing)!r} is not writable")
    return path


def check_output_file(path: str | os.PathLike, argument: str = "out") -> Path:
    """``path`` as a file the package may (re)write, or a ``ValueError`` naming ``argument``."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{argument} {str(path)!r} is a folder; give a file name")
    check_output_folder(path.parent, f"the folder of {argument}")
    return path


def atomic_write(path: str | os.PathLike, write: Callable[[str], None]) -> Path:
    """Call ``write(tmp_path)`` and rename the result to ``path``; clean up on failure."""
    path = check_output_file(path, "path")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        # mkstemp makes the file private; give it the permissions a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path
