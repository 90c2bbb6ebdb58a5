"""BERT's pre-training heads: masked language model and next-sentence prediction.

As Google's `run_pretraining.py` (`get_masked_lm_output`, `get_next_sentence_output`):
the masked-LM head transforms the sequence output at the masked positions (dense with
the config's activation, then LayerNorm) and scores every vocabulary entry with the
word-embedding table itself (tied weights) plus its own bias; the next-sentence head is
a two-way classifier on the pooled output whose weights are stored `[2, H]`.
"""

import tensorflow as tf
from keras import ops

from bert_tf.configs import BertConfig
from bert_tf.layers import common
from bert_tf.layers.activations import get_activation
from bert_tf.layers.output_head import OutputHead


class MaskedLMHead(common.BertLayer):
    """Vocabulary logits at the masked positions (Google's `cls/predictions`)."""

    def __init__(self, config: BertConfig, **kwargs):
        """Creates the transform from `config`; the output bias is made by `build`."""
        super().__init__(config, **kwargs)
        self.dense = common.dense(config, config.hidden_size, "dense",
                                  activation=get_activation(config.hidden_act))
        self.layer_norm = common.layer_norm(config, "LayerNorm")

    def build(self, input_shape=None):
        """Builds the transform and the [vocab_size] output bias."""
        hidden = self.config.hidden_size
        self.dense.build((None, None, hidden))
        self.layer_norm.build((None, None, hidden))
        self.output_bias = self.add_weight(shape=(self.config.vocab_size,),
                                           initializer="zeros", name="output_bias")
        self.built = True

    def call(self, masked_output, embedding_table):
        """Scores the vocabulary at each masked position.

        Args:
          masked_output: float [B, P, H], the encoder's last layer at the positions
            to predict (`BertModel` with `output_positions`; padding slots may point
            anywhere, their loss weight is 0).
          embedding_table: float [vocab_size, H], the word embeddings (tied weights).

        Returns:
          float32 logits [B, P, vocab_size].
        """
        batch, predictions = ops.shape(masked_output)[0], ops.shape(masked_output)[1]
        hidden = ops.cast(self.layer_norm(self.dense(masked_output)), self.compute_dtype)
        # One [B * P, H] x [H, V] product. As a batched product (an einsum over
        # [B, P, H]) the table's gradient would be B copies of [V, H], summed after.
        hidden = ops.reshape(hidden, (-1, self.config.hidden_size))
        table = ops.cast(embedding_table, self.compute_dtype)
        logits = tf.matmul(hidden, table, transpose_b=True)
        logits = tf.nn.bias_add(ops.cast(logits, "float32"),
                                ops.cast(self.output_bias, "float32"))
        return ops.reshape(logits, (batch, predictions, self.config.vocab_size))


class NextSentenceHead(OutputHead):
    """Two-way "is B the actual next segment" logits (Google's `cls/seq_relationship`):
    float [B, H] pooled output -> float32 [B, 2] (index 0: B follows A)."""

    def __init__(self, config: BertConfig, **kwargs):
        """Creates the head with Google's two outputs."""
        kwargs.pop("num_outputs", None)  # Fixed at 2; present in get_config's output.
        super().__init__(config, 2, **kwargs)
