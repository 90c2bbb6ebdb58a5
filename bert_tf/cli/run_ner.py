"""Fine-tunes BERT for named-entity recognition on CoNLL-format data.

    python run_ner.py --do_train=true --do_eval=true --do_predict=true \
      --data_dir=conll2003 --vocab_file=cased_L-12_H-768_A-12/vocab.txt \
      --bert_config_file=cased_L-12_H-768_A-12/bert_config.json \
      --init_checkpoint=cased_L-12_H-768_A-12/bert_model.ckpt --do_lower_case=false \
      --max_seq_length=128 --train_batch_size=32 --learning_rate=5e-5 \
      --num_train_epochs=3.0 --output_dir=/tmp/ner_output/

(or `bert-run-ner` with the same flags, once the package is installed).

--data_dir holds `train.txt`, `dev.txt` (or `valid.txt`, or CoNLL-2003's `eng.testa`)
and `test.txt`: one word per line, the word first and its tag last, a blank line
after each sentence (see `bert_tf/tasks/ner/conll.py`). Tags may be IOB1 (as CoNLL-2003
ships), IOB2, IOBES or BILOU (--label_scheme, detected by default). The labels come
from the training file and are saved in --output_dir, so evaluation or prediction runs
without --do_train reuse them.

Each word's tag is learned and predicted at its first WordPiece. A sentence longer
than a window is split into overlapping windows (--doc_stride), never truncated: every
word gets exactly one prediction. --document_context fills windows with the
neighbouring sentences of the document, as the BERT paper did for CoNLL-2003.
--use_crf adds a linear-chain CRF over the words' labels.

--do_eval writes entity-level precision, recall and F1 (overall and per type, as
conlleval counts them) and token accuracy to eval_results.txt; --do_predict writes
test_predictions.txt, `word gold predicted` per line in the test file's tag scheme,
which conlleval reads. Re-running the same command after the process died resumes
from the last checkpoint in --output_dir.
"""

from absl import flags

from bert_tf import serving
from bert_tf.cli import command
from bert_tf.cli import flags as fine_tuning_flags
from bert_tf.tasks import runner
from bert_tf.tasks.ner import conll
from bert_tf.tasks.ner.task import NerOptions, NerTask

FLAGS = flags.FLAGS


def define_flags() -> None:
    """Registers the shared fine-tuning flags and NER's own."""
    fine_tuning_flags.define_flags()
    flags.DEFINE_enum("label_scheme", "auto", ["auto", *conll.SCHEMES], "Tag scheme of the "
                      "data files; 'auto' detects it in each file. Predictions are written "
                      "in the test file's scheme.")
    flags.DEFINE_integer("doc_stride", None, "How many WordPieces apart the overlapping "
                         "windows of a sentence longer than --max_seq_length start. "
                         "Default: half a window.")
    flags.DEFINE_bool("document_context", False, "Fill each window with the neighbouring "
                      "sentences of the same document (only the sentence's own words are "
                      "labelled).")
    flags.DEFINE_bool("use_crf", False, "Add a linear-chain CRF on the token logits "
                      "(trained by its likelihood, decoded by Viterbi).")
    flags.DEFINE_integer("max_words_per_request", serving.DEFAULT_MAX_WORDS_PER_REQUEST,
                         "With --export_dir: the most words one text (one row of a batch) "
                         "sent to the exported model may hold; a longer one is refused "
                         "with an error giving its word count and this limit.",
                         lower_bound=1)


def run(argv: list[str]) -> None:
    """Trains, evaluates, predicts and exports as the flags say; see the docstring."""
    del argv
    task = NerTask(NerOptions(
        label_scheme=FLAGS.label_scheme, doc_stride=FLAGS.doc_stride,
        document_context=FLAGS.document_context,
        # Left out, --use_crf is the saved model's setting (False for a new one).
        use_crf=FLAGS.use_crf if FLAGS["use_crf"].present else None,
        max_words_per_request=FLAGS.max_words_per_request))
    runner.run(task, fine_tuning_flags.fine_tuning_options(), argument_prefix="--")


def main() -> None:
    """The command: `python run_ner.py ...` or `bert-run-ner ...`."""
    command.run_command(__name__, define_flags, run)
