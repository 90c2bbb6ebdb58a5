"""Examples held in memory, as a processor: what the Python API trains on (lists of
strings, or pairs of lists, and their labels) goes through the same task as the files
of `run_classifier.py`."""

from typing import Sequence

from bert_tf.errors import InvalidArgumentError, UserInputError
from bert_tf.tasks.classification.examples import DEV, TEST, TRAIN, DataProcessor, InputExample

Texts = Sequence[str] | tuple[Sequence[str], Sequence[str]]


def to_examples(split: str, texts: Texts, labels: Sequence | None = None,
                argument: str = "texts") -> list[InputExample]:
    """`InputExample`s `split-0`, `split-1`, ... of `texts` (a list of strings, or a
    tuple of two equally long lists for pairs) and their `labels` (None: unlabelled).

    Raises:
      UserInputError (InvalidArgumentError): naming `argument`, if the texts are not
        strings, pairs of different lengths, or not one per label.
    """
    if isinstance(texts, str):
        raise InvalidArgumentError(argument, texts, "must be a list of texts, not one "
                                   "string.")
    if isinstance(texts, tuple) and len(texts) == 2 and not isinstance(texts[0], str):
        texts_a, texts_b = list(texts[0]), list(texts[1])
        if len(texts_a) != len(texts_b):
            raise UserInputError(f"{argument}: a pair of lists of {len(texts_a)} and "
                                 f"{len(texts_b)} texts; give two lists of the same length.")
    else:
        texts_a, texts_b = list(texts), None
    for text in [*texts_a, *(texts_b or [])]:
        if not isinstance(text, str):
            raise InvalidArgumentError(argument, text, "must hold strings only.")
    if labels is not None and len(labels) != len(texts_a):
        raise UserInputError(f"{argument}: {len(labels)} labels for {len(texts_a)} texts; "
                             "give one label per text.")
    return [InputExample(f"{split}-{row}", text_a, None if texts_b is None else texts_b[row],
                         None if labels is None else labels[row])
            for row, text_a in enumerate(texts_a)]


class InMemoryProcessor(DataProcessor):
    """A processor over examples given in memory, by split, with their labels."""

    def __init__(self, splits: dict[str, list[InputExample]], labels: Sequence[str]):
        """`splits`: the examples of TRAIN, DEV and TEST that exist; `labels`: in the
        order of the classifier's outputs."""
        self._splits = splits
        self._labels = list(labels)

    def _split(self, split: str) -> list[InputExample]:
        if split not in self._splits:
            raise UserInputError(f"No {split} examples were given.")
        return self._splits[split]

    def get_train_examples(self, data_dir: str | None) -> list[InputExample]:
        """The training examples (`data_dir` is not used)."""
        return self._split(TRAIN)

    def get_dev_examples(self, data_dir: str | None) -> list[InputExample]:
        """The validation examples (`data_dir` is not used)."""
        return self._split(DEV)

    def get_test_examples(self, data_dir: str | None) -> list[InputExample]:
        """The examples to predict (`data_dir` is not used)."""
        return self._split(TEST)

    def get_labels(self) -> list[str]:
        """See base class."""
        return list(self._labels)
