"""User-facing errors: each carries one line naming the cause and the fix.

``main`` catches :class:`RobustKerasError`, prints its message on one line and exits non-zero;
anything else is a bug and keeps its traceback.
"""


class RobustKerasError(Exception):
    """Base class for errors a user can fix (bad input, missing data, bad model)."""

    def __init__(self, cause: str, fix: str):
        super().__init__(f"{cause} -- {fix}")
        self.cause = cause
        self.fix = fix


class DataError(RobustKerasError):
    """A dataset is missing, incomplete, corrupt or does not match what was asked for."""


class ModelError(RobustKerasError):
    """A model (e.g. a SavedModel) cannot be used as asked: wrong endpoint or input shape."""


class ConfigError(RobustKerasError):
    """Flag values that are valid one by one but do not fit together."""


class StageFinished(Exception):
    """Not an error: the one stage this process was asked for (e.g. ``--gen_stage=shards``) is
    done; ``main`` prints the message and exits 0 with the run finished."""


class TrainingError(RobustKerasError):
    """Training cannot go on meaningfully (e.g. the loss became NaN or infinite)."""


def first_line(error: BaseException, limit: int = 160) -> str:
    """``Type: first line of the message``, at most ``limit`` characters of message: how a
    one-line error quotes the exception behind it."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {text[:limit]}{'...' if len(text) > limit else ''}"
