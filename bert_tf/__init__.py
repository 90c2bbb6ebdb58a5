"""BERT in TensorFlow 2 and Keras 3 that mirrors Google's original BERT code.

`from bert_tf import tokenization` gives Google's `tokenization` module API (it lives
in `bert_tf.text.tokenization`), so programs written against Google's code run
unchanged; `bert_tf.TextClassifier`, `TokenClassifier` and `TextEncoder` are the
notebook API (`bert_tf.api`). Submodules are imported when first used, so
`import bert_tf` stays cheap.
"""

import importlib
from types import ModuleType

__version__ = "0.1.0"

# Google's module names that live deeper in this package.
_GOOGLE_MODULES = {"tokenization": "bert_tf.text.tokenization"}
# The API's classes, by the module that holds each.
_API = {"TextClassifier": "bert_tf.api.text_classifier",
        "TokenClassifier": "bert_tf.api.token_classifier",
        "TextEncoder": "bert_tf.api.text_encoder"}


def __getattr__(name: str) -> ModuleType | type:
    if name in _GOOGLE_MODULES:
        return importlib.import_module(_GOOGLE_MODULES[name])
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'bert_tf' has no attribute {name!r}")
