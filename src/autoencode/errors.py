"""The one exception family the library raises for problems a user can fix.

A message about one argument names it by its library name through ``{parameter}``:
``ConfigError("{parameter} must be positive, got 0", parameter="epochs")`` reads
"epochs must be positive, got 0" from Python, and the CLI words it as its flag ("--epochs ...").
"""

from __future__ import annotations

PLACEHOLDER = "{parameter}"


class AutoencodeError(Exception):
    """A problem with the user's input: the CLI prints it as one line and exits non-zero."""

    def __init__(self, message: str, parameter: str | None = None):
        super().__init__(message)
        self.message = message
        self.parameter = parameter

    def worded(self, name: str | None = None) -> str:
        """The message, with the parameter called ``name`` (its library name by default)."""
        return self.message.replace(PLACEHOLDER, name or self.parameter or "value")

    def __str__(self) -> str:
        return self.worded()


class DataError(AutoencodeError):
    """A data file or directory is missing, truncated, corrupt or of the wrong shape."""


class ConfigError(AutoencodeError, ValueError):
    """A setting is out of range or unknown."""


class FileFormatError(AutoencodeError):
    """A file is missing, unreadable, or not in the format expected of it."""


class RunFolderError(FileFormatError):
    """A run folder is missing a file, or a file in it is unreadable."""
