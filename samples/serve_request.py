"""Answers raw-text requests with an exported SavedModel, as TF Serving would, using
only TensorFlow and tensorflow_text (no bert_tf).

    python samples/serve_request.py EXPORT_DIR "first text" ["second text" ...]
    python samples/serve_request.py EXPORT_DIR question="Who ...?" context="..." [...]

EXPORT_DIR is the folder given to --export_dir; its newest version is used. A model
with several text inputs (question answering: `question` and `context`) takes
NAME=text arguments, one of each input per request row, in order. The same
request through TF Serving's REST API is a POST to
http://HOST:8501/v1/models/NAME:predict with the body printed below.
"""

import json
import os
import sys

import tensorflow as tf
import tensorflow_text  # noqa: F401  Registers the tokenizer's ops before loading.


def main(export_dir: str, texts: list[str]) -> None:
    """Loads the newest version in `export_dir` and prints its answer to `texts`."""
    versions = sorted((name for name in os.listdir(export_dir) if name.isdigit()), key=int)
    if not versions:
        sys.exit(f"error: no numbered version folder in {export_dir}")
    path = os.path.join(export_dir, versions[-1])
    serve = tf.saved_model.load(path).signatures["serving_default"]
    instances = _instances(sorted(serve.structured_input_signature[1]), texts)
    print("REST request body:", json.dumps({"signature_name": "serving_default",
                                            "instances": instances}))
    outputs = serve(**{name: tf.constant([instance[name] for instance in instances])
                       for name in instances[0]})
    arrays = {name: value.numpy() for name, value in outputs.items()}
    for index, instance in enumerate(instances):
        answer = {name: _plain(array[index]) for name, array in arrays.items()}
        shown = next(iter(instance.values())) if len(instance) == 1 else instance
        print(f"{shown!r} -> {json.dumps(answer)}")


def _instances(input_names: list[str], texts: list[str]) -> list[dict[str, str]]:
    """The request's rows: one text per row for a model with one input; else NAME=text
    arguments, a new row starting when a name comes again."""
    if len(input_names) == 1:
        return [{input_names[0]: text} for text in texts]
    rows: list[dict[str, str]] = []
    for argument in texts:
        name, separator, text = argument.partition("=")
        if not separator or name not in input_names:
            sys.exit(f"error: {argument!r}: this model takes NAME=text arguments with NAME "
                     f"one of {input_names}")
        if not rows or name in rows[-1]:
            rows.append({})
        rows[-1][name] = text
    incomplete = [row for row in rows if sorted(row) != input_names]
    if incomplete:
        sys.exit(f"error: every request row needs one text for each of {input_names}; "
                 f"got {incomplete[0]}")
    return rows


def _plain(value):
    """A NumPy value (or bytes) as JSON-ready Python."""
    value = value.tolist() if hasattr(value, "tolist") else value
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value.decode() if isinstance(value, bytes) else value


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2:])
