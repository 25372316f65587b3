"""The installed landpulse version (single source: the package metadata)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("landpulse")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
