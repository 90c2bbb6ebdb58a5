"""The post-LayerNorm transformer block and the encoder stack of BERT."""

from keras import ops

from bert_tf.configs import BertConfig
from bert_tf.layers import common, dropout
from bert_tf.layers.activations import get_activation
from bert_tf.layers.attention import SelfAttention, attention_mask_adder


class TransformerBlock(common.BertLayer):
    """One BERT layer: self-attention and a feed-forward network, each followed by
    dropout, a residual connection and LayerNorm (the original, post-LN order)."""

    def __init__(self, config: BertConfig, **kwargs):
        """Creates the sublayers from `config`."""
        super().__init__(config, **kwargs)
        self.attention = SelfAttention(config, name="attention")
        self.attention_layer_norm = common.layer_norm(config, "attention_layer_norm")
        # The activation is applied in `call`, in its training form when training.
        self.intermediate = common.dense(config, config.intermediate_size, "intermediate")
        self.activation = get_activation(config.hidden_act)
        self.training_activation = get_activation(config.hidden_act, training=True)
        self.output_dense = common.dense(config, config.hidden_size, "output_dense")
        self.output_layer_norm = common.layer_norm(config, "output_layer_norm")
        self.dropout = dropout.Dropout(config.hidden_dropout_prob)

    def build(self, input_shape=None):
        """Builds every sublayer for inputs of width H."""
        hidden = self.config.hidden_size
        self.attention.build()
        self.attention_layer_norm.build((None, None, hidden))
        self.intermediate.build((None, None, hidden))
        self.output_dense.build((None, None, self.config.intermediate_size))
        self.output_layer_norm.build((None, None, hidden))
        self.built = True

    def call(self, hidden_states, mask_adder, training=None, output_positions=None):
        """Maps float [B, S, H] to float [B, S, H] (see `SelfAttention.call`).

        With `output_positions` (int [B, P]) only those positions are computed: their
        queries still attend to all of `hidden_states`, and the result, [B, P, H],
        equals the full output gathered at `output_positions`.
        """
        inputs = (hidden_states if output_positions is None
                  else common.gather_positions(hidden_states, output_positions))
        attention = self.attention(inputs, mask_adder, training=training,
                                   to_states=hidden_states)
        attention = self.dropout(attention, training=training)
        # LayerNorm computes in float32; the rest of the block in the compute dtype.
        hidden_states = ops.cast(self.attention_layer_norm(inputs + attention),
                                 self.compute_dtype)
        activation = self.training_activation if training else self.activation
        feed_forward = self.output_dense(activation(self.intermediate(hidden_states)))
        feed_forward = self.dropout(feed_forward, training=training)
        return ops.cast(self.output_layer_norm(hidden_states + feed_forward),
                        self.compute_dtype)


class TransformerEncoder(common.BertLayer):
    """`num_hidden_layers` transformer blocks applied in turn."""

    def __init__(self, config: BertConfig, **kwargs):
        """Creates the blocks from `config`."""
        super().__init__(config, **kwargs)
        self.blocks = [TransformerBlock(config, name=f"layer_{index}")
                       for index in range(config.num_hidden_layers)]

    def build(self, input_shape=None):
        """Builds every block."""
        for block in self.blocks:
            block.build()
        self.built = True

    def call(self, embeddings, input_mask, training=None, last_layer_positions=None):
        """Runs the stack.

        Args:
          embeddings: float [B, S, H], the embedding layer's output.
          input_mask: int [B, S], 1 for tokens and 0 for padding; padding is never
            attended to.
          training: whether dropout is active.
          last_layer_positions: optional int [B, P]: the last block computes only
            these positions (when nothing else of its output is needed, this saves
            most of one layer's work).

        Returns:
          A list with every block's output, each float [B, S, H]; the last one is
          [B, P, H] with `last_layer_positions`.
        """
        mask_adder = attention_mask_adder(input_mask)
        outputs = []
        hidden_states = embeddings
        for index, block in enumerate(self.blocks):
            positions = last_layer_positions if index == len(self.blocks) - 1 else None
            hidden_states = block(hidden_states, mask_adder, training=training,
                                  output_positions=positions)
            outputs.append(hidden_states)
        return outputs
