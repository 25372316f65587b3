"""Writing files that others may race or plant links for: never through a symbolic link.

Every file a run writes outside its unit folders (STAC items and collections, run reports, the
lock holder record) goes through :func:`write_atomic`: the bytes go into a new temporary file
beside the target (created exclusively, refusing a symbolic link: ``O_CREAT | O_EXCL |
O_NOFOLLOW``), are flushed, and the temporary file is renamed onto the target. A rename replaces a
symbolic link at the target instead of writing through it, so a link planted there (as root, the
run would otherwise overwrite whatever it points to) is replaced by a plain file, and a reader
never sees a half-written file.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

from landpulse.errors import InputError, LandpulseError, StoreExistsError

#: Flags of every file landpulse creates for its own state: new, exclusive, never through a link.
CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


def write_atomic(path: str | Path, data: str | bytes, *, fsync: bool = True, mode: int = 0o644) -> Path:
    """Write ``data`` to ``path`` through a new temporary file and a rename.

    Parameters
    ----------
    path : path
        The file to (re)place; its folder must exist.
    data : str or bytes
        Text (UTF-8) or bytes.
    fsync : bool
        Flush the file to disk before the rename (the rename itself is atomic either way).
    mode : int
        Permission bits of the new file.

    Returns
    -------
    pathlib.Path
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:12]}")
    payload = data.encode() if isinstance(data, str) else data
    fd = os.open(tmp, CREATE_FLAGS, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            if fsync:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def open_no_follow(path: str | Path, flags: int = os.O_RDWR | os.O_CREAT, mode: int = 0o644) -> int:
    """``os.open`` that refuses a symbolic link at ``path`` (for files that must be opened in place,
    such as a lock file).

    Raises
    ------
    LandpulseError
        When ``path`` is a symbolic link.
    """
    try:
        return os.open(path, flags | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0), mode)
    except OSError as err:
        if Path(path).is_symlink():
            raise LandpulseError(f"{path} is a symbolic link; landpulse never writes its state through one "
                                 "(remove it)") from err
        raise


_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def validate_name(name: str, what: str = "name") -> str:
    """Reject names that could escape a folder (``..``, ``/``, absolute paths, odd characters)."""
    if not _NAME_RE.fullmatch(name) or ".." in name:
        raise InputError(
            f"invalid {what} {name!r}: use letters, digits, '_', '-' and '.', no path separators or '..'"
        )
    return name


@contextlib.contextmanager
def atomic_directory(target: str | os.PathLike[str], *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary sibling folder that replaces ``target`` when the block succeeds.

    On error the temporary folder is removed and ``target`` is untouched. Replacing an existing
    target renames it aside first, so there is no moment without a complete store at ``target``
    other than between two renames.
    """
    target = Path(target)
    if target.exists() and not overwrite:
        raise StoreExistsError(f"{target} already exists; pass overwrite (CLI: --overwrite) to replace it")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.tmp-{uuid.uuid4().hex[:12]}"
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if target.exists():
        old = target.parent / f".{target.name}.old-{uuid.uuid4().hex[:12]}"
        os.replace(target, old)
    os.replace(tmp, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def is_zarr_store(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` is a local Zarr v2 or v3 group or array."""
    p = Path(path)
    return p.is_dir() and any((p / m).is_file() for m in ("zarr.json", ".zgroup", ".zarray"))
