"""Exceptions with messages meant for people, not stack traces."""


class SessrecError(Exception):
    """Base class for every error sessrec raises on purpose."""


class DataFormatError(SessrecError):
    """An input file does not have the expected shape (columns, types, content)."""


class CheckpointError(SessrecError):
    """A checkpoint file is missing, corrupt, or does not fit the dataset it is used with."""
