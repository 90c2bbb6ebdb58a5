"""Sequence-classification examples and the reader API every task implements (the
API of the processors of Google's `run_classifier.py`).

Labels are strings (`get_labels()` lists them, in the order of the classifier's
outputs); a regression task (`is_regression`, e.g. STS-B) has float labels and
`get_labels()` None. Test splits carry no labels: their examples have `label` None
(Google put a placeholder label there).
"""

import dataclasses

TRAIN, DEV, TEST = "train", "dev", "test"


@dataclasses.dataclass
class InputExample:
    """One example: a text or a text pair, and its label.

    Attributes:
      guid: a unique id for bookkeeping, e.g. `train-12`.
      text_a: the first (or only) text, untokenized.
      text_b: the second text of a pair task, else None.
      label: a label string of `get_labels()`, a float for a regression task, or None
        (test examples).
    """

    guid: str
    text_a: str
    text_b: str | None = None
    label: str | float | None = None


class DataProcessor:
    """Reads one task's train, dev and test examples (the API of Google's processors)."""

    is_regression = False

    def get_train_examples(self, data_dir: str) -> list[InputExample]:
        """The training examples in `data_dir`."""
        raise NotImplementedError()

    def get_dev_examples(self, data_dir: str) -> list[InputExample]:
        """The development (evaluation) examples in `data_dir`."""
        raise NotImplementedError()

    def get_test_examples(self, data_dir: str) -> list[InputExample]:
        """The test (prediction) examples in `data_dir`; their labels are None."""
        raise NotImplementedError()

    def get_labels(self) -> list[str] | None:
        """The labels, in the order of the classifier's outputs; None for regression."""
        raise NotImplementedError()
