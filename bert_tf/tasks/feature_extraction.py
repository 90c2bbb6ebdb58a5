"""Contextual embeddings of texts, as Google's `extract_features.py` computes and
writes them: its input lines, the model's layer outputs per token, its JSON lines."""

import collections
import dataclasses
import json
import re
from typing import Iterator

import numpy as np
import tensorflow as tf

from bert_tf import file_checks
from bert_tf.errors import UserInputError
from bert_tf.modeling import BertModel
from bert_tf.text import packing, tokenization

_PAIR_SEPARATOR = re.compile(r"^(.*) \|\|\| (.*)$")


@dataclasses.dataclass
class TextExample:
    """One input line: a text, or a pair written `text_a ||| text_b`."""

    unique_id: int
    text_a: str
    text_b: str | None


def read_examples(input_file: str, argument: str = "input_file") -> list[TextExample]:
    """Reads one example per line; `a ||| b` is a pair, anything else a single text.

    Lines end at `\\n` only, as in Google's script (which reads with `readline`).

    Raises:
      UserInputError: if `input_file` does not exist, is a directory, is not UTF-8 text
        (naming the byte) or holds no line; the message names it as `argument` (a
        script passes its flag, `--input_file`).
    """
    file_checks.check_input_file(input_file, argument)
    with tf.io.gfile.GFile(input_file, "rb") as reader:
        text = file_checks.decode_utf8(reader.read(), input_file, argument)
    if not text:
        raise UserInputError(f"{argument} {input_file!r} is empty; it needs one text, or "
                             "`text_a ||| text_b`, per line.")
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()  # The newline that ends the last line.
    examples = []
    for unique_id, line in enumerate(lines):
        line = line.strip()
        match = _PAIR_SEPARATOR.match(line)
        text_a, text_b = (match.group(1), match.group(2)) if match else (line, None)
        examples.append(TextExample(unique_id, text_a, text_b))
    return examples


def feature_json(unique_id: int, tokens: list[str], layer_indexes: list[int],
                 layer_outputs: list[np.ndarray]) -> str:
    """One output line, as Google's script writes it.

    `{"linex_index": id, "features": [{"token": t, "layers": [{"index": -1,
    "values": [...]}, ...]}, ...]}` with values rounded to 6 decimals.

    Args:
      unique_id: the example's line number (Google's key is spelled `linex_index`).
      tokens: the example's tokens, `[CLS]` and `[SEP]` included, without padding.
      layer_indexes: the requested layer indexes, e.g. [-1, -2].
      layer_outputs: per requested layer, float [seq, hidden] for this example.
    """
    features = []
    for position, token in enumerate(tokens):
        layers = [collections.OrderedDict(
            index=index, values=[round(float(x), 6) for x in output[position]])
            for index, output in zip(layer_indexes, layer_outputs)]
        features.append(collections.OrderedDict(token=token, layers=layers))
    return json.dumps(collections.OrderedDict(linex_index=unique_id, features=features))


def batches(items: list, batch_size: int) -> Iterator[list]:
    """Consecutive slices of `items`, the last one possibly shorter."""
    for start in range(0, len(items), batch_size):
        yield items[start:start + batch_size]


def feature_lines(model: BertModel, tokenizer: tokenization.FullTokenizer,
                  examples: list[TextExample], layer_indexes: list[int],
                  max_seq_length: int, batch_size: int) -> Iterator[str]:
    """Runs the model on `examples` batch by batch; yields one JSON line per example
    (`feature_json` of the outputs of the layers `layer_indexes`, newline included).

    Args:
      model: the encoder; its `encoder_outputs` are the layers indexed.
      tokenizer: WordPiece tokenizer of the model's vocabulary.
      examples: from `read_examples`.
      layer_indexes: e.g. [-1, -2]: indexes into the model's layers.
      max_seq_length: each example is truncated and padded to this length
        (`packing.pack`).
      batch_size: examples per model call.
    """

    @tf.function
    def predict(inputs):
        encoder_outputs = model(inputs, training=False)["encoder_outputs"]
        return [encoder_outputs[index] for index in layer_indexes]

    for batch in batches(examples, batch_size):
        packed = [packing.pack(tokenizer.tokenize(example.text_a),
                               None if example.text_b is None
                               else tokenizer.tokenize(example.text_b),
                               max_seq_length, tokenizer.convert_tokens_to_ids)
                  for example in batch]
        inputs = {name: np.array([getattr(item, name) for item in packed], np.int32)
                  for name in ("input_ids", "input_mask", "segment_ids")}
        layer_outputs = [output.numpy() for output in predict(inputs)]
        for row, (example, item) in enumerate(zip(batch, packed)):
            yield feature_json(example.unique_id, item.tokens, layer_indexes,
                               [output[row] for output in layer_outputs]) + "\n"
