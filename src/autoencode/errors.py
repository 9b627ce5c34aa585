"""The one exception family the library raises for problems a user can fix."""


class AutoencodeError(Exception):
    """A problem with the user's input: the CLI prints it as one line and exits non-zero."""


class DataError(AutoencodeError):
    """A data file or directory is missing, truncated, corrupt or of the wrong shape."""


class ConfigError(AutoencodeError, ValueError):
    """A setting is out of range or unknown."""


class RunFolderError(AutoencodeError):
    """A run folder is missing a file, or a file in it is unreadable."""
