"""Learning a BERT WordPiece vocabulary from a corpus with tensorflow_text's learner.

Words are counted after Google's basic tokenization (`BasicGraphTokenizer`: the same
cleaning, lower-casing and punctuation splitting as `FullTokenizer`), so that the
vocabulary covers exactly the words the tokenizer will see; tensorflow_text's
`wordpiece_tokenizer_learner_lib.learn` then picks the pieces.
"""

import collections
from typing import Iterable

import tensorflow as tf
from tensorflow_text.tools.wordpiece_vocab import wordpiece_tokenizer_learner_lib as learner

from bert_tf.errors import InvalidArgumentError
from bert_tf.text import tokenization
from bert_tf.text.graph_tokenization import BasicGraphTokenizer

_BATCH_LINES = 4096


def count_words(lines: Iterable[str], do_lower_case: bool) -> collections.Counter:
    """How often each word (after Google's basic tokenization) occurs in `lines`."""
    basic = BasicGraphTokenizer(do_lower_case)
    split = tf.function(basic.split_words, input_signature=[tf.TensorSpec([None], tf.string)])
    counts: collections.Counter = collections.Counter()
    batch: list[str] = []

    def flush() -> None:
        if batch:
            counts.update(split(tf.constant(batch)).flat_values.numpy())
            batch.clear()

    for line in lines:
        batch.append(line)
        if len(batch) == _BATCH_LINES:
            flush()
    flush()
    return collections.Counter({word.decode("utf-8"): count for word, count in counts.items()})


def reserved_tokens(num_unused: int) -> list[str]:
    """`[PAD] [UNK] [CLS] [SEP] [MASK]`, then `[unused0]` ... `[unused{n-1}]`."""
    return list(tokenization.SPECIAL_TOKENS) + [f"[unused{i}]" for i in range(num_unused)]


def check_vocab_size(vocab_size: int, num_unused: int = 0) -> None:
    """Raises `InvalidArgumentError` (naming `vocab_size`) unless the vocabulary has
    room for learned tokens beside the reserved ones (`reserved_tokens`)."""
    reserved = len(reserved_tokens(num_unused))
    if vocab_size <= reserved:
        raise InvalidArgumentError("vocab_size", vocab_size, f"leaves no room beside the "
                                   f"{reserved} reserved tokens.")


def learn_vocab(word_counts: collections.Counter, vocab_size: int, num_unused: int = 0,
                min_word_count: int = 2) -> list[str]:
    """A WordPiece vocabulary of about `vocab_size` tokens (reserved ones included).

    Args:
      word_counts: from `count_words`.
      vocab_size: the size to aim for; tensorflow_text's learner lands within a few
        percent of it.
      num_unused: `[unusedN]` placeholder tokens to reserve after the special tokens
        (Google's vocabularies have them, to add domain words later).
      min_word_count: the lowest count threshold the learner's search may use.

    Raises:
      InvalidArgumentError: if `vocab_size` leaves no room (`check_vocab_size`).
    """
    check_vocab_size(vocab_size, num_unused)
    return learner.learn(list(word_counts.items()), vocab_size, reserved_tokens(num_unused),
                         lower_thresh=min_word_count)
