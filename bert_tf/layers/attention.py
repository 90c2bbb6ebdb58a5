"""Multi-head self-attention with Google BERT's 2-D projection kernels.

Dimensions, as in Google's `modeling.py`: B = batch, F = from (query) length,
T = to (key) length, N = heads, D = size per head, H = hidden size = N * D.
"""

import math

from keras import ops

from bert_tf.configs import BertConfig
from bert_tf.layers import common, dropout

# Added to the scores of padding positions before the softmax. exp(-10000) is 0 in
# float32, so padding gets no weight; Google uses the same constant.
_MASK_ADDER = -10000.0


def attention_mask_adder(input_mask):
    """Turns an input mask [B, T] (1 = token, 0 = padding) into float32 [B, 1, 1, T]
    adders: 0 where attention is allowed, -10000 on padding."""
    mask = ops.cast(input_mask, "float32")
    return (1.0 - mask[:, None, None, :]) * _MASK_ADDER


class SelfAttention(common.BertLayer):
    """Scaled dot-product self-attention over N heads, plus the output projection.

    The `query`, `key`, `value` and `output_dense` kernels are [H, H], as Google's
    `attention/self/{query,key,value}` and `attention/output/dense`.
    """

    def __init__(self, config: BertConfig, **kwargs):
        """Creates the four projections from `config`."""
        super().__init__(config, **kwargs)
        hidden = config.hidden_size
        self.query = common.dense(config, hidden, "query")
        self.key = common.dense(config, hidden, "key")
        self.value = common.dense(config, hidden, "value")
        self.output_dense = common.dense(config, hidden, "output_dense")
        self.dropout = dropout.Dropout(config.attention_probs_dropout_prob)

    def build(self, input_shape=None):
        """Builds the projections for inputs of width H."""
        shape = (None, None, self.config.hidden_size)
        for layer in (self.query, self.key, self.value, self.output_dense):
            layer.build(shape)
        self.built = True

    def _split_heads(self, x):
        """[B, S, H] -> [B, S, N, D]."""
        batch, length = ops.shape(x)[0], ops.shape(x)[1]
        return ops.reshape(x, (batch, length, self.config.num_attention_heads,
                               self.config.head_size))

    def call(self, from_states, mask_adder, training=None, to_states=None):
        """Attends every position of `from_states` to every unmasked position of
        `to_states` (Google's `attention_layer(from_tensor, to_tensor)`).

        Args:
          from_states: float [B, F, H], where the queries come from.
          mask_adder: float32 [B, 1, 1, T] from `attention_mask_adder`.
          training: whether dropout is active.
          to_states: float [B, T, H], where the keys and values come from; by default
            `from_states` (self-attention).

        Returns:
          float [B, F, H]: the projected context, before the residual connection.
        """
        to_states = from_states if to_states is None else to_states
        # Scaling the queries by 1 / sqrt(D) scales the scores as Google does, but on
        # [B, F, H] rather than [B, N, F, T]: fewer elements whenever T > D.
        query = self.query(from_states) * (1.0 / math.sqrt(self.config.head_size))
        query = self._split_heads(query)  # [B, F, N, D]
        key = self._split_heads(self.key(to_states))  # [B, T, N, D]
        value = self._split_heads(self.value(to_states))  # [B, T, N, D]
        scores = ops.einsum("bfnd,btnd->bnft", query, key)  # [B, N, F, T]
        # The softmax runs in float32 so that half-precision scores cannot overflow.
        # (Keras casts float layer inputs to the compute dtype, hence the second cast.)
        probs = ops.softmax(ops.cast(scores, "float32") + ops.cast(mask_adder, "float32"),
                            axis=-1)
        probs = self.dropout(ops.cast(probs, self.compute_dtype), training=training)
        context = ops.einsum("bnft,btnd->bfnd", probs, value)  # [B, F, N, D]
        batch, length = ops.shape(from_states)[0], ops.shape(from_states)[1]
        context = ops.reshape(context, (batch, length, self.config.hidden_size))
        return self.output_dense(context)
