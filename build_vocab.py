"""Learns a BERT WordPiece vocabulary (vocab.txt) from a text corpus.

    python build_vocab.py --input_file=corpus/*.txt --output_file=vocab.txt \
      --vocab_size=30522 --do_lower_case=True

The file starts with `[PAD] [UNK] [CLS] [SEP] [MASK]` (then `--num_unused`
`[unusedN]` slots) and loads in `FullTokenizer` and the in-graph tokenizer.
"""

import tensorflow as tf
from absl import flags, logging

from bert_tf import cli, vocab_learning
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


def _lines(paths: list[str]):
    for path in paths:
        with tf.io.gfile.GFile(path, "r") as reader:
            for line in reader:
                yield line.rstrip("\n")


def main(argv: list[str]) -> None:
    """Counts words, learns the vocabulary and writes it."""
    del argv
    paths = []
    for pattern in FLAGS.input_file.split(","):
        matches = sorted(tf.io.gfile.glob(pattern.strip()))
        if not matches:
            raise UserInputError(f"--input_file: {pattern!r} matches no file.")
        paths += matches
    if tf.io.gfile.exists(FLAGS.output_file) and not FLAGS.overwrite_output:
        raise UserInputError(f"--output_file {FLAGS.output_file!r} already exists; choose "
                             "another name or pass --overwrite_output.")
    reserved = len(vocab_learning.reserved_tokens(FLAGS.num_unused))
    if FLAGS.vocab_size <= reserved:
        raise UserInputError(f"--vocab_size={FLAGS.vocab_size} leaves no room beside the "
                             f"{reserved} reserved tokens.")
    counts = vocab_learning.count_words(_lines(paths), FLAGS.do_lower_case)
    if not counts:
        raise UserInputError(f"--input_file {FLAGS.input_file!r} holds no words.")
    vocab = vocab_learning.learn_vocab(counts, FLAGS.vocab_size, FLAGS.num_unused,
                                       FLAGS.min_word_count)
    temporary = FLAGS.output_file + ".tmp"
    with tf.io.gfile.GFile(temporary, "w") as writer:
        writer.write("".join(token + "\n" for token in vocab))
    tf.io.gfile.rename(temporary, FLAGS.output_file, overwrite=True)
    logging.info("Wrote %d tokens (from %d distinct words) to %s", len(vocab), len(counts),
                 FLAGS.output_file)


if __name__ == "__main__":
    cli.run(main)
