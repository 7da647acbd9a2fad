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


#: longest quoted input shown in a message; longest message printed by the command line
QUOTE_LIMIT = 80
MESSAGE_LIMIT = 2000


def quote(value: object, limit: int = QUOTE_LIMIT) -> str:
    """``repr(value)`` for an error message, cut to about ``limit`` characters.

    Input content quoted in a message is shortened so that a 16 MB line gives a short
    error, with the original length said instead of the rest.
    """
    text = repr(value)
    if len(text) <= limit:
        return text
    size = len(value) if isinstance(value, (str, bytes)) else len(text)
    return f"{text[:limit]}... ({size:,} characters in all)"


def clip(message: str, limit: int = MESSAGE_LIMIT) -> str:
    """A whole message cut to ``limit`` characters (the last guard before printing)."""
    message = str(message)
    if len(message) <= limit:
        return message
    return f"{message[:limit]}... [message cut: {len(message):,} characters in all]"


class TrainingError(SessrecError):
    """Training cannot go on (for example, the loss became NaN or infinite)."""
