"""The commit protocol of a unit folder: complete, flushed, then renamed into place whole.

A unit is written into a temporary sibling folder (``.<period>.tmp-<random>``), its STAC item
last; :func:`check_complete` proves every chunk of every array is there (a missing Zarr chunk would
read back as fill values), :func:`fsync_tree` flushes it, and :func:`commit_folder` renames it onto
the unit's path. A rename onto a committed unit fails, so another attempt's unit is never
overwritten; a unit being replaced is moved aside first and put back on any error.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import shutil
import uuid
from collections.abc import Sequence
from pathlib import Path

from landpulse.errors import LandpulseError
from landpulse.io.manifest_store import fsync_path
from landpulse.production.ledger import ITEM_NAME, OLD_MARK, discard


def check_complete(zarr_store: Path, arrays: Sequence[str]) -> int:
    """Raise unless ``zarr_store`` holds every array in ``arrays`` with every chunk file; return
    the number of chunk files.

    Products are written with every chunk (also all-nodata ones), so a missing file means a write
    that did not finish, never "fill value".
    """
    if not (zarr_store / "zarr.json").is_file():
        raise LandpulseError(f"incomplete product: {zarr_store.name}/zarr.json is missing")
    count = 0
    for name in arrays:
        meta = zarr_store / name / "zarr.json"
        try:
            doc = json.loads(meta.read_text())
        except (OSError, ValueError) as err:
            raise LandpulseError(f"incomplete product: array {name} has no readable metadata ({err})") from err
        shape = doc["shape"]
        chunks = doc["chunk_grid"]["configuration"]["chunk_shape"]
        sep = doc.get("chunk_key_encoding", {}).get("configuration", {}).get("separator", "/")
        grid = [math.ceil(s / c) if s else 0 for s, c in zip(shape, chunks, strict=True)]
        for idx in _grid_indices(grid):
            key = "c" + (sep + sep.join(map(str, idx)) if idx else "")
            if not (meta.parent / key).is_file():
                raise LandpulseError(f"incomplete product: chunk {name}/{key} was not written")
            count += 1
    return count


def _grid_indices(grid: list[int]) -> list[tuple[int, ...]]:
    return list(itertools.product(*(range(n) for n in grid)))


def fsync_tree(folder: Path, *, done: Sequence[str] = ()) -> None:
    """fsync every file and folder under ``folder`` (deepest first), except files in ``done``."""
    skip = set(done)
    for p in sorted(folder.rglob("*"), key=lambda q: len(q.parts), reverse=True):
        if p.relative_to(folder).as_posix() not in skip:
            fsync_path(p)
    fsync_path(folder)


class UnitFolderReplacedError(LandpulseError):
    """A unit's temporary folder is no longer the one its attempt created: nothing is committed."""


def commit_folder(tmp: Path, target: Path, *, handle: int, replace: bool) -> bool:
    """Rename the finished ``tmp`` folder to ``target``; return False when ``target`` was committed
    by another attempt meanwhile (``tmp`` is then removed and the existing unit kept).

    ``handle`` is a file descriptor this attempt opened on ``tmp`` when it created it. While it is
    open the folder's inode cannot be reused, so if the folder now at ``tmp`` is another one (a
    cleanup moved ours away and a late write recreated the path), the inodes differ and nothing is
    committed.
    """
    # checked before anything is moved: a failed check leaves the committed unit where it is
    if os.stat(tmp).st_ino != os.fstat(handle).st_ino or os.fstat(handle).st_nlink == 0:
        raise UnitFolderReplacedError(f"{tmp} was replaced while this attempt wrote it (another attempt cleaned it up)")
    old = None
    if replace and target.exists():
        old = target.with_name(f".{target.name}{OLD_MARK}{uuid.uuid4().hex[:12]}")
        os.replace(target, old)
    try:
        os.rename(tmp, target)  # fails with ENOTEMPTY/EEXIST when a committed unit is there
    except BaseException as err:  # an interrupt between the two renames must not hide the unit either
        if old is not None and not target.exists():
            os.replace(old, target)  # put the previous unit back
        if isinstance(err, OSError) and (target / ITEM_NAME).is_file():
            discard(tmp)
            return False
        raise
    fsync_path(target.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return True
