"""A dense output layer stored as Google stores its hand-made classifier weights.

Google's `run_classifier.py` (`create_model`) and the next-sentence head create
`output_weights` as `[num_outputs, H]` (not a Keras `Dense` kernel's `[H, num_outputs]`)
and `output_bias` as `[num_outputs]`; Hugging Face's `classifier.weight` has the same
`[out, in]` layout, so both load without transposing.
"""

from keras import ops

from bert_tf.configs import BertConfig
from bert_tf.layers import common


class OutputHead(common.BertLayer):
    """float32 logits `x @ output_weights^T + output_bias` over the last axis of `x`."""

    def __init__(self, config: BertConfig, num_outputs: int, **kwargs):
        """Creates a head with `num_outputs` logits (1 for a regression score)."""
        super().__init__(config, **kwargs)
        if num_outputs < 1:
            raise ValueError(f"num_outputs must be at least 1, got {num_outputs}.")
        self.num_outputs = num_outputs

    def build(self, input_shape=None):
        """Creates `output_weights` [num_outputs, H] and `output_bias` [num_outputs]."""
        self.output_weights = self.add_weight(
            shape=(self.num_outputs, self.config.hidden_size),
            initializer=common.initializer(self.config), name="output_weights")
        self.output_bias = self.add_weight(shape=(self.num_outputs,), initializer="zeros",
                                           name="output_bias")
        self.built = True

    def call(self, hidden):
        """Maps float [..., H] to float32 logits [..., num_outputs]."""
        weights = ops.cast(self.output_weights, hidden.dtype)
        logits = ops.einsum("...h,oh->...o", hidden, weights)
        return ops.cast(logits, "float32") + ops.cast(self.output_bias, "float32")

    def get_config(self):
        """The constructor's arguments."""
        return {**super().get_config(), "num_outputs": self.num_outputs}
