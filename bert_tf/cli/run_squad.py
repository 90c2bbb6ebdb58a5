"""Fine-tunes BERT for extractive question answering (SQuAD 1.1 and 2.0), as Google's
`run_squad.py`, with the same flags:

    python run_squad.py --vocab_file=uncased_L-12_H-768_A-12/vocab.txt \
      --bert_config_file=uncased_L-12_H-768_A-12/bert_config.json \
      --init_checkpoint=uncased_L-12_H-768_A-12/bert_model.ckpt \
      --do_train=True --train_file=train-v1.1.json \
      --do_predict=True --predict_file=dev-v1.1.json \
      --train_batch_size=12 --learning_rate=3e-5 --num_train_epochs=2.0 \
      --max_seq_length=384 --doc_stride=128 --output_dir=/tmp/squad_base/

(or `bert-run-squad` with the same flags, once the package is installed).

--do_predict writes `predictions.json`, `nbest_predictions.json` and, with
--version_2_with_negative, `null_odds.json` in --output_dir, as Google's script does;
the official evaluation scripts read them. --do_eval (this project's) scores
--predict_file, when it holds answers, as those scripts do and writes
eval_results.txt: exact_match and f1, and for SQuAD 2.0 the HasAns/NoAns split and the
best null-score threshold (best_f1_thresh, to pass as --null_score_diff_threshold).
--export_dir writes a SavedModel that answers raw question and passage strings.
Re-running the same command after the process died resumes from the last checkpoint
in --output_dir.

For training, a question with several answers (as in the official dev files) is
trained on its first; Google's script refuses such a file.
"""

from absl import flags

from bert_tf.cli import command
from bert_tf.cli import flags as fine_tuning_flags
from bert_tf.tasks import runner
from bert_tf.tasks.squad.task import SquadOptions, SquadTask

FLAGS = flags.FLAGS


def define_flags() -> None:
    """Registers the shared fine-tuning flags (without --data_dir; --max_seq_length
    384) and those only Google's `run_squad.py` has."""
    fine_tuning_flags.define_flags(data_dir=False, max_seq_length=384)
    flags.DEFINE_string("train_file", None, "SQuAD json for training. E.g., "
                        "train-v1.1.json")
    flags.DEFINE_string("predict_file", None, "SQuAD json for predictions (and, with "
                        "--do_eval, scoring). E.g., dev-v1.1.json or test-v1.1.json")
    flags.DEFINE_integer("doc_stride", 128, "When splitting up a long document into "
                         "chunks, how much stride to take between chunks.")
    flags.DEFINE_integer("max_query_length", 64, "The maximum number of tokens for the "
                         "question. Questions longer than this will be truncated to this "
                         "length.")
    flags.DEFINE_integer("n_best_size", 20, "The total number of n-best predictions to "
                         "generate in the nbest_predictions.json output file.")
    flags.DEFINE_integer("max_answer_length", 30, "The maximum length of an answer that "
                         "can be generated.")
    flags.DEFINE_bool("verbose_logging", False, "If true, all of the warnings related to "
                      "data processing will be printed.")
    flags.DEFINE_bool("version_2_with_negative", False, "If true, the SQuAD examples "
                      "contain some that do not have an answer.")
    flags.DEFINE_float("null_score_diff_threshold", 0.0, "If null_score - best_non_null "
                       "is greater than the threshold predict null.")


def run(argv: list[str]) -> None:
    """Trains, evaluates, predicts and exports as the flags say; see the docstring."""
    del argv
    task = SquadTask(SquadOptions(
        train_file=FLAGS.train_file, predict_file=FLAGS.predict_file,
        doc_stride=FLAGS.doc_stride, max_query_length=FLAGS.max_query_length,
        n_best_size=FLAGS.n_best_size, max_answer_length=FLAGS.max_answer_length,
        verbose_logging=FLAGS.verbose_logging,
        version_2_with_negative=FLAGS.version_2_with_negative,
        null_score_diff_threshold=FLAGS.null_score_diff_threshold))
    runner.run(task, fine_tuning_flags.fine_tuning_options(), argument_prefix="--")


def main() -> None:
    """The command: `python run_squad.py ...` or `bert-run-squad ...`."""
    command.run_command(__name__, define_flags, run)
