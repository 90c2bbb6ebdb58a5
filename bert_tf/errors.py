"""The error type for bad user input (files, flags, configs)."""


class UserInputError(ValueError):
    """Input the user can fix: the message names the file or flag and says how.

    The top-level scripts print such errors as one message, without a traceback.
    """


class TrainingError(RuntimeError):
    """Training cannot go on (e.g. the loss became NaN); the message says why and what
    to change. Printed like `UserInputError`."""
