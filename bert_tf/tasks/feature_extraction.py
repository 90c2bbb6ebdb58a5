"""Inputs and outputs of `extract_features.py`, in Google's formats."""

import collections
import dataclasses
import json
import re
from typing import Iterator

import numpy as np
import tensorflow as tf

from bert_tf import file_checks
from bert_tf.errors import UserInputError

_PAIR_SEPARATOR = re.compile(r"^(.*) \|\|\| (.*)$")


@dataclasses.dataclass
class TextExample:
    """One input line: a text, or a pair written `text_a ||| text_b`."""

    unique_id: int
    text_a: str
    text_b: str | None


def read_examples(input_file: str) -> list[TextExample]:
    """Reads one example per line; `a ||| b` is a pair, anything else a single text.

    Lines end at `\\n` only, as in Google's script (which reads with `readline`).

    Raises:
      UserInputError: if `input_file` does not exist, is a directory, is not UTF-8 text
        (naming the byte) or holds no line.
    """
    file_checks.check_input_file(input_file, "--input_file")
    with tf.io.gfile.GFile(input_file, "rb") as reader:
        text = file_checks.decode_utf8(reader.read(), input_file, "--input_file")
    if not text:
        raise UserInputError(f"--input_file {input_file!r} is empty; it needs one text, or "
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
