"""Answers raw-text requests with an exported SavedModel, as TF Serving would, using
only TensorFlow and tensorflow_text (no bert_tf).

    python samples/serve_request.py EXPORT_DIR "first text" ["second text" ...]

EXPORT_DIR is the folder given to --export_dir; its newest version is used. The same
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
    input_name = sorted(serve.structured_input_signature[1])[0]
    print("REST request body:", json.dumps({"signature_name": "serving_default",
                                            "instances": [{input_name: t} for t in texts]}))
    outputs = serve(**{input_name: tf.constant(texts)})
    arrays = {name: value.numpy() for name, value in outputs.items()}
    for index, text in enumerate(texts):
        answer = {name: _plain(array[index]) for name, array in arrays.items()}
        print(f"{text!r} -> {json.dumps(answer)}")


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
