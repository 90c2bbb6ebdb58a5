"""The files a checkpoint comes with: its config and vocabulary, found beside it when
not given, and checked to belong together."""

import os
from typing import Iterable

import tensorflow as tf

from bert_tf import file_checks
from bert_tf.checkpoints import formats
from bert_tf.checkpoints.formats import CheckpointError
from bert_tf.configs import BertConfig
from bert_tf.errors import InvalidArgumentError, UserInputError


def companion_file(checkpoint: str, names: Iterable[str]) -> str | None:
    """The first of `names` found beside a checkpoint (in it, if it is a directory).

    Used to find `bert_config.json` / `config.json` and `vocab.txt` when only the
    checkpoint is given.
    """
    directory = checkpoint if tf.io.gfile.isdir(checkpoint) else os.path.dirname(checkpoint)
    for name in names:
        candidate = os.path.join(directory, name)
        if tf.io.gfile.exists(candidate):
            return candidate
    return None


def resolve_model_files(init_checkpoint: str, bert_config_file: str | None,
                        vocab_file: str | None) -> tuple[str, str]:
    """The config and vocab paths to use: the ones given, or the files found beside
    `init_checkpoint` (`bert_config.json` or Hugging Face's `config.json`; `vocab.txt`).

    Raises:
      CheckpointError: if the checkpoint does not exist, or a file was not given and
        is not beside the checkpoint.
      InvalidArgumentError: if a file given is a directory.
      UserInputError: if the config is not UTF-8 text.
    """
    formats.resolve(init_checkpoint)
    config = bert_config_file or companion_file(init_checkpoint,
                                                ("bert_config.json", "config.json"))
    vocab = vocab_file or companion_file(init_checkpoint, ("vocab.txt",))
    for value, argument, names in (
            (config, "bert_config_file", "bert_config.json or config.json"),
            (vocab, "vocab_file", "vocab.txt")):
        if value is None:
            raise CheckpointError(
                f"{argument} was not given and no {names} is beside init_checkpoint "
                f"{init_checkpoint!r}. Pass {argument}.")
        if tf.io.gfile.isdir(value):
            raise InvalidArgumentError(argument, value,
                                       f"is a directory; give the {names} file.")
    if tf.io.gfile.exists(config):
        file_checks.check_utf8_head(config, "bert_config_file")
    return config, vocab


def check_vocab_fits_config(vocab_size: int, vocab_file: str, config: BertConfig,
                            config_file: str) -> None:
    """Refuses a vocabulary with more tokens than the model has embedding rows (the ids
    past the table would fail at the first batch that holds one).

    Raises:
      UserInputError: naming both files.
    """
    if vocab_size > config.vocab_size:
        # Worded for the command line, as the scripts' tests expect it
        # (tests/test_extract_features.py).
        raise UserInputError(
            f"--vocab_file {vocab_file} has {vocab_size} tokens but the model "
            f"({config_file}) has only vocab_size={config.vocab_size} embedding rows: the "
            "vocabulary does not belong to this model.")
