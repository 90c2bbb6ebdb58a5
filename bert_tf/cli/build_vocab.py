"""Learns a BERT WordPiece vocabulary (vocab.txt) from a text corpus.

    python build_vocab.py --input_file=corpus/*.txt --output_file=vocab.txt \
      --vocab_size=30522 --do_lower_case=True

(or `bert-build-vocab` with the same flags, once the package is installed). The file
starts with `[PAD] [UNK] [CLS] [SEP] [MASK]` (then `--num_unused` `[unusedN]` slots)
and loads in `FullTokenizer` and the in-graph tokenizer.
"""

from absl import flags, logging

from bert_tf import file_checks, io
from bert_tf.cli import command
from bert_tf.errors import UserInputError
from bert_tf.text import vocab_learning

FLAGS = flags.FLAGS


def define_flags() -> None:
    """Registers the command's flags."""
    flags.DEFINE_string("input_file", None, "Text file(s): comma-separated, globs allowed.")
    flags.DEFINE_string("output_file", None, "Where to write vocab.txt.")
    flags.DEFINE_integer("vocab_size", 30522, "Target vocabulary size, reserved tokens "
                         "included.")
    flags.DEFINE_bool("do_lower_case", True, "Lower-case the text first (uncased models).")
    flags.DEFINE_integer("num_unused", 0, "Number of [unusedN] placeholder tokens to "
                         "reserve.")
    flags.DEFINE_integer("min_word_count", 2, "Lowest word-count threshold the learner may "
                         "use.")
    flags.DEFINE_bool("overwrite_output", False, "Replace --output_file if it exists.")
    flags.mark_flags_as_required(["input_file", "output_file"])


def run(argv: list[str]) -> None:
    """Checks the inputs and the output, counts words, learns the vocabulary and
    writes it."""
    del argv
    paths = file_checks.expand_text_files(FLAGS.input_file, "--input_file",
                                          allow_empty_files=True)
    file_checks.check_output_file(FLAGS.output_file, "--output_file", FLAGS.overwrite_output)
    vocab_learning.check_vocab_size(FLAGS.vocab_size, FLAGS.num_unused)
    counts = vocab_learning.count_words(file_checks.read_utf8_files(paths, "--input_file"),
                                        FLAGS.do_lower_case)
    if not counts:
        raise UserInputError(f"--input_file {FLAGS.input_file!r} holds no words.")
    vocab = vocab_learning.learn_vocab(counts, FLAGS.vocab_size, FLAGS.num_unused,
                                       FLAGS.min_word_count)
    io.write_atomically(FLAGS.output_file, (token + "\n" for token in vocab))
    logging.info("Wrote %d tokens (from %d distinct words) to %s", len(vocab), len(counts),
                 FLAGS.output_file)


def main() -> None:
    """The command (`bert-build-vocab`, `python build_vocab.py`)."""
    command.run_command(__name__, define_flags, run)
