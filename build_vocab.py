"""Learns a BERT WordPiece vocabulary (vocab.txt) from a text corpus.

    python build_vocab.py --input_file=corpus/*.txt --output_file=vocab.txt \
      --vocab_size=30522 --do_lower_case=True

The file starts with `[PAD] [UNK] [CLS] [SEP] [MASK]` (then `--num_unused`
`[unusedN]` slots) and loads in `FullTokenizer` and the in-graph tokenizer.
"""

import tensorflow as tf
from absl import flags, logging

from bert_tf import file_checks

from bert_tf.cli import app as cli

from bert_tf import io as outputs

from bert_tf.text import vocab_learning
from bert_tf.errors import UserInputError

FLAGS = flags.FLAGS
flags.DEFINE_string("input_file", None, "Text file(s): comma-separated, globs allowed.")
flags.DEFINE_string("output_file", None, "Where to write vocab.txt.")
flags.DEFINE_integer("vocab_size", 30522, "Target vocabulary size, reserved tokens included.")
flags.DEFINE_bool("do_lower_case", True, "Lower-case the text first (uncased models).")
flags.DEFINE_integer("num_unused", 0, "Number of [unusedN] placeholder tokens to reserve.")
flags.DEFINE_integer("min_word_count", 2, "Lowest word-count threshold the learner may use.")
flags.DEFINE_bool("overwrite_output", False, "Replace --output_file if it exists.")
flags.mark_flags_as_required(["input_file", "output_file"])


def input_files(pattern_list: str) -> list[str]:
    """Expands comma-separated paths and globs; each match must be a UTF-8 text file
    (its first bytes are checked here, the rest as it is read)."""
    paths = []
    for pattern in pattern_list.split(","):
        matches = sorted(tf.io.gfile.glob(pattern.strip()))
        if not matches:
            raise UserInputError(f"--input_file: {pattern!r} matches no file.")
        for path in matches:
            file_checks.check_input_file(path, "--input_file")
            file_checks.check_utf8_head(path, "--input_file")
        paths += matches
    return paths


def main(argv: list[str]) -> None:
    """Checks the inputs and the output, counts words, learns the vocabulary and
    writes it."""
    del argv
    paths = input_files(FLAGS.input_file)
    file_checks.check_output_file(FLAGS.output_file, "--output_file", FLAGS.overwrite_output)
    reserved = len(vocab_learning.reserved_tokens(FLAGS.num_unused))
    if FLAGS.vocab_size <= reserved:
        raise UserInputError(f"--vocab_size={FLAGS.vocab_size} leaves no room beside the "
                             f"{reserved} reserved tokens.")
    counts = vocab_learning.count_words(file_checks.read_utf8_files(paths, "--input_file"),
                                        FLAGS.do_lower_case)
    if not counts:
        raise UserInputError(f"--input_file {FLAGS.input_file!r} holds no words.")
    vocab = vocab_learning.learn_vocab(counts, FLAGS.vocab_size, FLAGS.num_unused,
                                       FLAGS.min_word_count)
    outputs.write_atomically(FLAGS.output_file, (token + "\n" for token in vocab))
    logging.info("Wrote %d tokens (from %d distinct words) to %s", len(vocab), len(counts),
                 FLAGS.output_file)


if __name__ == "__main__":
    cli.run(main)
