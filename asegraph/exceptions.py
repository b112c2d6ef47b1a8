"""Exceptions raised by asegraph.

Every exception subclasses a built-in one, so callers can catch
``ValueError`` or ``FileNotFoundError`` without importing asegraph, and also
:class:`AsegraphError`, so the command line can tell a user's mistake (one
line, exit code 2) from a bug (a traceback).
"""

from __future__ import annotations


class AsegraphError(Exception):
    """Base class of every error that reports a user's mistake."""


class StructureError(AsegraphError, ValueError):
    """A structure cannot be turned into a crystal graph (bad cell, overlaps, ...)."""


class ModelFileError(AsegraphError, ValueError):
    """A model file is corrupt, of an unknown format, or fails its checksum."""


class ModelNotFoundError(AsegraphError, FileNotFoundError):
    """A pretrained model is neither on disk nor downloadable."""


class InputFileError(AsegraphError, ValueError):
    """An input file exists but cannot be read as what was expected."""


class ParameterError(AsegraphError, ValueError):
    """A parameter has a value outside what is accepted."""


class OutputFileError(AsegraphError, OSError):
    """An output cannot be written: full disk, quota, read-only file system."""
