"""The Python API for notebooks and programs: `TextClassifier`, `TokenClassifier` and
`TextEncoder` (exported from `bert_tf` itself: `bert_tf.TextClassifier`). It drives
the task objects and runner of the scripts; nothing here is a second implementation."""
