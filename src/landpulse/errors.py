"""Typed errors: every failure a user can cause has a class and a message that names the fix.

All of them derive from :class:`LandpulseError`, which the CLI turns into a one-line message
and a non-zero exit status. Each class carries the exit code a scheduler sees.
"""

from __future__ import annotations

import errno
import os


class LandpulseError(Exception):
    """Base class of every error landpulse raises on purpose.

    Attributes
    ----------
    exit_code : int
        The process exit status the CLI uses for this error.
    """

    exit_code: int = 1


class InputError(LandpulseError, ValueError):
    """Bad input: a missing band, a mismatched grid, an invalid argument."""

    exit_code = 2


class MissingBandError(InputError, KeyError):
    """A band a product needs is not in the scene or store."""

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0]) if self.args else ""


class UnreadableInputError(InputError):
    """A file exists but cannot be read as imagery (corrupt, wrong format, permissions)."""


class RemoteReadError(UnreadableInputError):
    """A remote asset (HTTP(S), S3) could not be read after its retries; names the scene, the
    asset (its URL without query string or credentials) and the last HTTP/GDAL error."""


class NotAZarrStoreError(InputError):
    """A path that should be a Zarr store is not one."""


class GridMismatchError(InputError):
    """Inputs on different CRSs or grids where one grid is required."""


class RadiometryError(InputError):
    """Scale/offset metadata missing, contradictory, or about to be applied twice."""


class ClassTableMissingError(InputError):
    """A quality band whose class meanings its source does not state (no STAC classification table)."""


class BackendUnavailableError(LandpulseError):
    """The requested compute backend (for example the GPU) is not available here."""

    exit_code = 3


class StoreExistsError(InputError):
    """An output already exists and overwriting was not asked for."""


class GpuOutOfMemoryError(LandpulseError):
    """A GPU block ran out of device memory even after freeing the pool, splitting and CPU fallback."""

    exit_code = 4


class GpuFaultError(LandpulseError):
    """The CUDA context hit a sticky error (illegal address, launch failure): the process must restart."""

    exit_code = 4


class ProductMeaningWarning(UserWarning):
    """A condition that changes what a product means (no cloud mask applied, a classifier run
    outside its calibration). Production runs record these warnings in the unit's STAC item
    (``landpulse:warnings``) and in the run report."""


class EnvironmentFaultError(LandpulseError):
    """The machine, not a scene, stops the run: the output's disk is full, it is read-only, or
    landpulse may not write there (exit status 74, ``EX_IOERR``). Committed units are kept; a rerun
    after the fix completes the job."""

    exit_code = 74


class ClusterLostError(EnvironmentFaultError):
    """The Dask scheduler went away in the middle of a run (killed, its node lost): every task it held
    is gone with it, so the run stops at once (exit status 69, ``EX_UNAVAILABLE``) instead of blaming
    the scenes that were running. Units committed before are kept (the run's own ledger knows them,
    not Dask); a rerun against a live scheduler computes the rest."""

    exit_code = 69


#: ``errno`` values that only writing can raise: disk full, quota exceeded, read-only file system.
WRITE_FAULT_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS})
#: ``errno`` values that are faults of the environment where they concern the output: permissions.
PERMISSION_ERRNOS = frozenset({errno.EACCES, errno.EPERM})


def environment_fault(err: BaseException, output: str | os.PathLike[str] | None = None) -> EnvironmentFaultError | None:
    """The :class:`EnvironmentFaultError` that ``err`` (or an error that caused it) means, or None.

    A full disk, an exceeded quota and a read-only file system are always the environment's; a
    permission error is when it concerns a path under ``output`` (an unreadable input file is the
    scene's fault, and fails that scene alone); so is a missing file under ``output`` (the run made
    every path there: one that vanished was deleted while the run wrote it).
    """
    seen: BaseException | None = err
    while seen is not None:
        if (isinstance(seen, OSError) and seen.errno == errno.ENOENT and output is not None and seen.filename is not None
                and os.path.abspath(os.fsdecode(seen.filename)).startswith(os.path.abspath(os.fspath(output)))):
            # the run made every path under its output: one that vanished was removed by someone else
            return EnvironmentFaultError(f"files under the output {os.fspath(output)} disappeared while the run wrote them "
                                         f"({os.fsdecode(seen.filename)}): the run stopped; run again to "
                                         "recompute what it held (nothing half-written was committed)")
        if isinstance(seen, OSError) and (seen.errno in WRITE_FAULT_ERRNOS or (
                seen.errno in PERMISSION_ERRNOS and output is not None and seen.filename is not None
                and os.path.abspath(os.fsdecode(seen.filename)).startswith(os.path.abspath(os.fspath(output))))):
            where = f" ({os.fsdecode(seen.filename)})" if seen.filename else ""
            return EnvironmentFaultError(f"{seen.strerror or seen}{where}: the run stopped; fix the output location "
                                         "and run again (committed units are kept)")
        seen = seen.__cause__ or seen.__context__
    return None
