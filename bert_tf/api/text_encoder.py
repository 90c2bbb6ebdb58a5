"""`bert_tf.TextEncoder`: one vector per text from a pre-trained BERT.

    encoder = bert_tf.TextEncoder.from_pretrained("all-MiniLM-L6-v2/model")
    vectors = encoder.encode(["a sentence", "another"], pooling="mean")  # [2, hidden]

`pooling="cls"` is the final-layer vector of `[CLS]` (what `extract_features.py`
gives for that token); `"mean"` averages the final layer over the real tokens
(`[CLS]` and `[SEP]` included, padding not): the sentence embedding that models trained
for it, such as all-MiniLM-L6-v2, expect (sentence-transformers' mean pooling). Texts
are tokenized as Google's `FullTokenizer` and cut to `max_seq_length` as Google's
scripts cut them.
"""

import dataclasses

import numpy as np
import tensorflow as tf

from bert_tf import checkpoints
from bert_tf.configs import BertConfig
from bert_tf.errors import InvalidArgumentError
from bert_tf.modeling import BertModel
from bert_tf.tasks.classification import dataset as classification_dataset
from bert_tf.tasks.classification import in_memory
from bert_tf.tasks.classification.features import convert_examples_to_features
from bert_tf.text import packing, tokenization

POOLINGS = ("cls", "mean")


@dataclasses.dataclass(eq=False)  # Hashable by identity, as tf.function methods need.
class TextEncoder:
    """A pre-trained BERT encoder that turns texts into vectors.

    Attributes:
      model: the encoder.
      vocab_file: its WordPiece vocabulary.
      do_lower_case: its casing.
      max_seq_length: the longest input, special tokens included; longer texts are
        cut.
    """

    model: BertModel
    vocab_file: str
    do_lower_case: bool = True
    max_seq_length: int = 128

    @classmethod
    def from_pretrained(cls, path: str, max_seq_length: int = 128,
                        do_lower_case: bool = True) -> "TextEncoder":
        """The encoder of a Google checkpoint, a Hugging Face folder or a checkpoint of
        this project, with `bert_config.json` (or `config.json`) and `vocab.txt`
        beside it.

        Raises:
          UserInputError: if the files are missing or do not fit together.
        """
        config_file, vocab_file = checkpoints.resolve_model_files(path, None, None)
        config = BertConfig.from_json_file(config_file)
        packing.check_max_seq_length(max_seq_length, config.max_position_embeddings,
                                     source=config_file)
        tokenization.validate_case_matches_checkpoint(do_lower_case, path)
        model = BertModel(config)
        checkpoints.load_checkpoint(model, path, initialize_missing=("bert/pooler/",))
        return cls(model, vocab_file, do_lower_case, max_seq_length)

    def encode(self, texts: in_memory.Texts, pooling: str = "cls",
               batch_size: int = 32) -> np.ndarray:
        """float32 [texts, hidden_size]: one vector per text (or per pair, for a tuple
        of two lists), pooled as `pooling` says (see the module docstring).

        Raises:
          InvalidArgumentError: naming `pooling` or `texts`.
        """
        if pooling not in POOLINGS:
            raise InvalidArgumentError("pooling", pooling, f"must be one of "
                                       f"{', '.join(POOLINGS)}.")
        examples = in_memory.to_examples("encode", texts)
        if not examples:
            return np.zeros([0, self.model.config.hidden_size], np.float32)
        tokenizer = tokenization.FullTokenizer(self.vocab_file, self.do_lower_case)
        features, _ = convert_examples_to_features(examples, None, self.max_seq_length,
                                                   tokenizer, is_regression=True)
        dataset = classification_dataset.classification_dataset(
            features, batch_size, is_training=False, drop_remainder=False,
            trim_padding=True)
        return np.concatenate([self._pooled(batch, pooling).numpy() for batch in dataset])

    @tf.function(reduce_retracing=True)
    def _pooled(self, batch: dict[str, tf.Tensor], pooling: str) -> tf.Tensor:
        sequence = self.model(batch, training=False)["sequence_output"]  # [B, S, H]
        if pooling == "cls":
            return tf.cast(sequence[:, 0], tf.float32)
        mask = tf.cast(batch["input_mask"], tf.float32)[:, :, tf.newaxis]
        total = tf.reduce_sum(tf.cast(sequence, tf.float32) * mask, axis=1)
        return total / tf.maximum(tf.reduce_sum(mask, axis=1), 1.0)
