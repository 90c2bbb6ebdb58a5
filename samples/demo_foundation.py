"""Demo step 1: tokenize the sample sentences both ways and save a tiny BERT.

Usage: python samples/demo_foundation.py OUTPUT_DIR

Shows that the Python tokenizer (Google's algorithm) and the in-graph tokenizer
(tensorflow_text) give the same ids, then writes a randomly initialized tiny BERT in
Google's checkpoint layout (bert_model.ckpt.*, bert_config.json, vocab.txt) to
OUTPUT_DIR for extract_features.py.
"""

import pathlib
import shutil
import sys

import keras
import tensorflow as tf

from bert_tf import checkpoints

from bert_tf.text import tokenization
from bert_tf.configs import BertConfig
from bert_tf.text.graph_tokenization import InGraphTokenizer
from bert_tf.modeling import BertModel

SAMPLES = pathlib.Path(__file__).resolve().parent
REPO_ROOT = SAMPLES.parent


def main(output_dir: pathlib.Path) -> None:
    """Runs the demo step; see the module docstring."""
    vocab = str(REPO_ROOT / "vocab" / "vocab.txt")
    python = tokenization.FullTokenizer(vocab, do_lower_case=True)
    graph = InGraphTokenizer(vocab, do_lower_case=True)
    texts = [line.replace(" ||| ", " ") for line in
             (SAMPLES / "sentences.txt").read_text(encoding="utf-8").splitlines()]
    graph_ids = graph.tokenize(tf.constant(texts)).to_list()
    for text, ids in zip(texts, graph_ids):
        tokens = python.tokenize(text)
        same = python.convert_tokens_to_ids(tokens) == ids
        print(f"{'same ids' if same else 'DIFFERENT'}  {' '.join(tokens)}")
        if not same:
            sys.exit("The in-graph tokenizer disagrees with the Python tokenizer.")

    config = BertConfig.from_json_file(str(SAMPLES / "bert_config.json"))
    keras.utils.set_random_seed(0)  # The same initial weights, and so the same demo, every run.
    model = BertModel(config)
    output_dir.mkdir(parents=True, exist_ok=True)
    prefix = checkpoints.save_google_checkpoint(model, str(output_dir / "bert_model.ckpt"))
    config.to_json_file(str(output_dir / "bert_config.json"))
    shutil.copyfile(vocab, output_dir / "vocab.txt")
    print(f"Saved a tiny BERT ({model.count_params():,} weights) in Google's layout: {prefix}")


if __name__ == "__main__":
    main(pathlib.Path(sys.argv[1]))
