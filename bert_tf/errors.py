"""The error types for what the user can fix (files, arguments, configs) and for
training that cannot go on."""


class UserInputError(ValueError):
    """Input the user can fix: the message names the file or argument and says how.

    The top-level scripts print such errors as one message, without a traceback.
    """


class InvalidArgumentError(UserInputError):
    """An argument out of its range. The library names the argument as the function
    takes it (`max_seq_length=600 must be ...`); `bert_tf.cli` words it as the flag
    of the same name (`--max_seq_length=600 must be ...`).

    Attributes:
      argument: the argument's name, e.g. "max_seq_length".
      value: what was given.
      requirement: what it must be, e.g. "must be between 3 and 512".
    """

    def __init__(self, argument: str, value: object, requirement: str):
        """Keeps the parts; the message is `argument=value requirement`."""
        self.argument = argument
        self.value = value
        self.requirement = requirement
        super().__init__(f"{argument}={value!r} {requirement}")

    def as_flag(self) -> str:
        """The message with the argument written as a command-line flag."""
        return f"--{self.argument}={self.value!r} {self.requirement}"


class TrainingError(RuntimeError):
    """Training cannot go on (e.g. the loss became NaN); the message says why and what
    to change. Printed like `UserInputError`."""
