"""The ledger of committed units, the run lock, and checksum manifests.

The ledger is the set of STAC items in the product store: a unit
``<store>/<product>/<tile>/<period>/`` is committed exactly when its ``item.json`` exists. The item
is written last, inside the unit's temporary folder, which is then renamed into place whole, so
a reader never sees an item without its complete files. The item records which input scenes the
unit used (``landpulse:inputs``), a digest of the parameters that shape its values
(``landpulse:params_hash``), and the size and checksums of every file (``landpulse:files``).
Chunk presence proves nothing (a missing Zarr chunk reads back as fill values): only the item counts.

Nothing here depends on Dask: after a driver crash, the next run reads the same items and skips
exactly the units that were committed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import os
import shutil
import socket
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import crc32c

from landpulse.errors import LandpulseError
from landpulse.io.files import open_no_follow, write_atomic

ITEM_NAME = "item.json"
LOCK_NAME = ".landpulse.lock"
TMP_MARK = ".tmp-"
OLD_MARK = ".old-"
TRASH_MARK = ".trash-"
_BLOCK = 8 << 20


class StoreLockedError(LandpulseError):
    """Another run holds the store's lock (exit status 75, EX_TEMPFAIL: try again later)."""

    exit_code = 75


@dataclass(frozen=True)
class LedgerEntry:
    """A committed unit as its STAC item records it."""

    product: str
    tile: str
    period: str
    item: Path
    inputs: list[str]
    params_hash: str | None
    run: str | None
    #: a window unit committed while its window was open (``landpulse:provisional``)
    provisional: bool = False


class Ledger:
    """Read the committed units of a product store (its STAC items)."""

    def __init__(self, store: str | Path) -> None:
        self.store = Path(store)

    def folder(self, product: str, tile: str, period: str) -> Path:
        return self.store / product / tile / period

    def entry(self, product: str, tile: str, period: str) -> LedgerEntry | None:
        """The committed unit, or None (no item, or an item that cannot be read)."""
        path = self.folder(product, tile, period) / ITEM_NAME
        try:
            item = json.loads(path.read_text())
            props = item["properties"]
            return LedgerEntry(product, tile, period, path, [str(i) for i in props.get("landpulse:inputs", [])],
                               props.get("landpulse:params_hash"), props.get("landpulse:run"),
                               bool(props.get("landpulse:provisional", False)))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def periods(self, product: str, tile: str) -> list[str]:
        """Committed periods of one product and tile, oldest first."""
        base = self.store / product / tile
        if not base.is_dir():
            return []
        return sorted(p.name for p in base.iterdir() if not p.name.startswith(".") and (p / ITEM_NAME).is_file())

    def newest_period(self, product: str, tile: str) -> str | None:
        periods = self.periods(product, tile)
        return periods[-1] if periods else None

    def products(self) -> list[str]:
        """Names of the products with at least one committed unit, sorted."""
        return sorted({p.parts[-4] for p in self.items()})

    def items(self, product: str | None = None) -> list[Path]:
        """Item files of every committed unit (of one product, or all)."""
        pattern = f"{product or '*'}/*/*/{ITEM_NAME}"
        return sorted(p for p in self.store.glob(pattern) if not any(part.startswith(".") for part in p.parts[-4:]))


# ----------------------------------------------------------------------------------------------
# lock


@contextlib.contextmanager
def store_lock(store: str | Path, *, wait: float = 0.0, holder_file: Path | None = None) -> Iterator[Path]:
    """Hold the store's run lock for the block (``flock`` on ``<store>/.landpulse.lock``).

    Parameters
    ----------
    store : path
        The product store (created if absent).
    wait : float
        Seconds to wait for a running job to finish; 0 (default) fails at once.
    holder_file : path, optional
        A JSON file written while the lock is held (pid, host, start time), read by a second run
        to say who holds the lock. It lives outside the store (the reports folder), so an idle run
        leaves the store untouched.

    Raises
    ------
    StoreLockedError
        When the lock is still held after ``wait`` seconds.

    Notes
    -----
    The lock is an advisory ``flock``: it works on local disks and on cluster file systems that
    support it (Lustre mounted with ``flock``, NFSv4, GPFS). It is released by the kernel when the
    process dies, so a killed run never leaves a stale lock.
    """
    store = Path(store)
    store.mkdir(parents=True, exist_ok=True)
    path = store / LOCK_NAME
    fd = open_no_follow(path)
    deadline = time.monotonic() + max(0.0, wait)
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    who = _holder(holder_file)
                    raise StoreLockedError(
                        f"another landpulse run is writing to {store}{who}; this run stops without "
                        f"writing anything (wait for it with --wait SECONDS, or run later)") from None
                time.sleep(min(1.0, max(0.05, deadline - time.monotonic())))
        if holder_file is not None:
            holder_file.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(holder_file, json.dumps({
                "pid": os.getpid(), "host": socket.gethostname(),
                "since": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}) + "\n", fsync=False)
        try:
            yield path
        finally:
            if holder_file is not None:
                with contextlib.suppress(OSError):
                    holder_file.unlink()
    finally:
        os.close(fd)  # releases the flock


def _holder(holder_file: Path | None) -> str:
    if holder_file is None:
        return ""
    try:
        h = json.loads(holder_file.read_text())
        return f" (pid {h['pid']} on {h['host']}, since {h['since']})"
    except (OSError, ValueError, KeyError):
        return ""


def discard(path: Path) -> None:
    """Remove a folder safely against a writer that may still be working in it.

    The folder is first *renamed* to a trash name (atomic), then deleted. A writer that still holds
    the old path then either recreates a new folder there (a different inode, which its commit
    check refuses) or finds nothing to rename: it can never commit a half-deleted folder.
    """
    trash = path.with_name(f".{path.name.lstrip('.')}{TRASH_MARK}{uuid.uuid4().hex[:12]}")
    try:
        os.rename(path, trash)
    except FileNotFoundError:
        return
    shutil.rmtree(trash, ignore_errors=True)


def clean_orphans(store: str | Path) -> list[Path]:
    """Tidy what interrupted runs left: remove temporary unit folders, restore set-aside units.

    Call it while holding the lock. A unit folder renamed aside during a replacement
    (``.<period>.old-*``) whose replacement never arrived is renamed back, so an interrupted
    replacement leaves the previous committed unit, never a gap.
    """
    store = Path(store)
    touched = []
    for old in sorted(store.glob(f"*/*/.*{OLD_MARK}*")):
        target = old.with_name(old.name[1:].split(OLD_MARK)[0])
        if not target.exists() and (old / ITEM_NAME).is_file():
            with contextlib.suppress(OSError):
                os.rename(old, target)
                touched.append(old)
                continue
        discard(old)
        touched.append(old)
    for pattern in (f"*/*/.*{TMP_MARK}*", f"*/.*{TMP_MARK}*", f".*{TMP_MARK}*"):
        for p in store.glob(pattern):
            if p.is_dir():
                discard(p)
            else:
                with contextlib.suppress(OSError):
                    p.unlink()
            touched.append(p)
    for p in store.glob(f"*/*/.*{TRASH_MARK}*"):
        shutil.rmtree(p, ignore_errors=True)
    return touched


# ----------------------------------------------------------------------------------------------
# manifests


def file_checksums(path: Path, algorithms: Sequence[str]) -> dict[str, Any]:
    """``{"size": n, "crc32c": "8 hex", "sha256": "64 hex"}`` of one file (one read)."""
    crc = 0
    sha = hashlib.sha256() if "sha256" in algorithms else None
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(_BLOCK):
            size += len(chunk)
            if "crc32c" in algorithms:
                crc = crc32c.crc32c(chunk, crc)
            if sha is not None:
                sha.update(chunk)
    out: dict[str, Any] = {"size": size}
    if "crc32c" in algorithms:
        out["crc32c"] = f"{crc:08x}"
    if sha is not None:
        out["sha256"] = sha.hexdigest()
    return out


def build_manifest(folder: Path, algorithms: Sequence[str], *,
                   known: Mapping[str, dict[str, Any]] | None = None) -> dict[str, dict[str, Any]]:
    """Checksums of every file under ``folder`` but the item itself (relative POSIX paths, sorted).

    ``known`` holds records taken when the files were written (see
    :class:`landpulse.io.manifest_store.ManifestStore`); those files are not read again, only their
    size is checked against the record.
    """

    known = known or {}
    out = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            rel = p.relative_to(folder).as_posix()
            if rel == ITEM_NAME:
                continue
            rec = known.get(rel)
            if rec is not None and all(a in rec for a in algorithms):
                if p.stat().st_size != rec["size"]:
                    raise LandpulseError(f"{rel}: {p.stat().st_size} bytes on disk, {rec['size']} written")
                out[rel] = {k: rec[k] for k in ("size", *algorithms)}
            else:
                out[rel] = file_checksums(p, algorithms)
    missing = sorted(set(known) - set(out))
    if missing:
        raise LandpulseError(f"files written but gone before the commit: {', '.join(missing[:5])}")
    return out


def _safe_member(folder: Path, rel: str) -> Path:
    p = Path(rel)
    if p.is_absolute() or ".." in p.parts or not rel:
        raise LandpulseError(f"manifest entry {rel!r} escapes its unit folder")
    return folder / p


def verify_unit(folder: str | Path) -> list[str]:
    """Check a committed unit against its item's manifest; return the problems (empty = intact).

    Every file listed must exist with the recorded size and checksums, and no other file may be
    there (a stray file means something wrote into a committed unit).
    """
    folder = Path(folder)
    try:
        item = json.loads((folder / ITEM_NAME).read_text())
        manifest = item["properties"]["landpulse:files"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        return [f"{folder / ITEM_NAME}: cannot read the manifest ({err})"]
    problems = []
    for rel, want in sorted(manifest.items()):
        try:
            path = _safe_member(folder, rel)
        except LandpulseError as err:
            problems.append(str(err))
            continue
        if not path.is_file():
            problems.append(f"{rel}: missing")
            continue
        algorithms = [a for a in ("crc32c", "sha256") if a in want]
        got = file_checksums(path, algorithms)
        for key in ["size", *algorithms]:
            if got[key] != want[key]:
                problems.append(f"{rel}: {key} {got[key]} != recorded {want[key]}")
                break
    present = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()} - {ITEM_NAME}
    for rel in sorted(present - set(manifest)):
        problems.append(f"{rel}: not in the manifest")
    return problems
