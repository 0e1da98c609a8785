"""Errors that name the problem and the fix. Scripts print them as one line and exit 2."""

from __future__ import annotations


class DimError(ValueError):
    """Base class: bad input that the user can fix."""


class DataError(DimError):
    """Input data that cannot be used as given (missing, unpaired, non-finite, too small)."""


class ConfigError(DimError):
    """A configuration value or key that does not exist or does not fit."""
