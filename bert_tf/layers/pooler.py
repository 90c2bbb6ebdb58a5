"""BERT's pooler, the sentence representation the classification heads use."""

from bert_tf.configs import BertConfig
from bert_tf.layers import common


class Pooler(common.BertLayer):
    """Google's pooler: a tanh dense layer on the first (`[CLS]`) position."""

    def __init__(self, config: BertConfig, **kwargs):
        """Creates the dense layer from `config`."""
        super().__init__(config, **kwargs)
        self.dense = common.dense(config, config.hidden_size, "dense", activation="tanh")

    def build(self, input_shape=None):
        """Builds the dense layer for inputs of width H."""
        self.dense.build((None, self.config.hidden_size))
        self.built = True

    def call(self, sequence_output):
        """Maps float [B, S, H] to float [B, H]."""
        return self.dense(sequence_output[:, 0])
