"""SavedModels for TF Serving: raw-text and id signatures per task, in version folders.

`export_classifier` (sequence classification and regression),
`export_token_classifier` (NER, tags per word) and `export_question_answerer` (SQuAD,
answers cut from a passage) write a new version folder `export_dir/<unix seconds>/`
each; `bert_tf.serving.common` describes the folder, its files and how to load it.
"""

from bert_tf.serving.classifier import export_classifier
from bert_tf.serving.common import (EXPORT_INFO_FILE, SERVE_IDS, SERVE_WORDS,
                                    SERVING_DEFAULT, ExportError)
from bert_tf.serving.question_answering import (DEFAULT_MAX_CONTEXT_CHARS,
                                                export_question_answerer)
from bert_tf.serving.token_classifier import (DEFAULT_MAX_WORDS_PER_REQUEST, WORD_OUTPUTS,
                                              export_token_classifier)

__all__ = ["DEFAULT_MAX_CONTEXT_CHARS", "DEFAULT_MAX_WORDS_PER_REQUEST", "EXPORT_INFO_FILE",
           "SERVE_IDS", "SERVE_WORDS", "SERVING_DEFAULT", "WORD_OUTPUTS", "ExportError",
           "export_classifier", "export_question_answerer", "export_token_classifier"]
