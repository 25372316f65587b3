"""Typed errors: every failure a user can cause has a class and a message that names the fix.

All of them derive from :class:`LandpulseError`, which the CLI turns into a one-line message
and a non-zero exit status. Each class carries the exit code a scheduler sees.
"""

from __future__ import annotations


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


class NotAZarrStoreError(InputError):
    """A path that should be a Zarr store is not one."""


class GridMismatchError(InputError):
    """Inputs on different CRSs or grids where one grid is required."""


class RadiometryError(InputError):
    """Scale/offset metadata missing, contradictory, or about to be applied twice."""


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
