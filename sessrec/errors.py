"""Exceptions with messages meant for people, not stack traces."""


class SessrecError(Exception):
    """Base class for every error sessrec raises on purpose."""


class DataFormatError(SessrecError):
    """An input file does not have the expected shape (columns, types, content)."""


class CheckpointError(SessrecError):
    """A checkpoint file is missing, corrupt, or does not fit the dataset it is used with."""


class ParameterError(SessrecError, ValueError):
    """A hyperparameter or command-line value is outside its allowed range (exit code 2).

    The message names the parameter, the value given and what is allowed.
    """


class OutputPathError(SessrecError):
    """An output location is unusable (exists as the wrong kind, escapes its folder, ...)."""


class TrainingError(SessrecError):
    """Training cannot go on (for example, the loss became NaN or infinite)."""
