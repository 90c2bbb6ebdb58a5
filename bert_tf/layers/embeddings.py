"""The BERT input embedding: word + position + token type, then LayerNorm and dropout."""

from keras import ops

from bert_tf.configs import BertConfig
from bert_tf.layers import common, dropout


class BertEmbeddings(common.BertLayer):
    """Sums word, learned absolute position and token-type (segment) embeddings.

    Google's `embedding_lookup` + `embedding_postprocessor`: the three tables are
    `word_embeddings` [vocab_size, H], `position_embeddings`
    [max_position_embeddings, H] and `token_type_embeddings` [type_vocab_size, H].
    """

    def __init__(self, config: BertConfig, **kwargs):
        """Creates the layer from `config` (its weights are made by `build`)."""
        super().__init__(config, **kwargs)
        self.layer_norm = common.layer_norm(config, "LayerNorm")
        self.dropout = dropout.Dropout(config.hidden_dropout_prob)

    def build(self, input_shape=None):
        """Creates the three embedding tables and the LayerNorm weights."""
        config = self.config
        init = common.initializer(config)
        self.word_embeddings = self.add_weight(
            shape=(config.vocab_size, config.hidden_size), initializer=init,
            name="word_embeddings")
        self.position_embeddings = self.add_weight(
            shape=(config.max_position_embeddings, config.hidden_size), initializer=init,
            name="position_embeddings")
        self.token_type_embeddings = self.add_weight(
            shape=(config.type_vocab_size, config.hidden_size), initializer=init,
            name="token_type_embeddings")
        self.layer_norm.build((None, None, config.hidden_size))
        self.built = True

    def call(self, input_ids, segment_ids, training=None):
        """Embeds a batch.

        Args:
          input_ids: int [B, S] WordPiece ids.
          segment_ids: int [B, S] token types (0 for sentence A, 1 for sentence B).
          training: whether dropout is active.

        Returns:
          float [B, S, H].
        """
        seq_length = ops.shape(input_ids)[1]
        words = ops.take(self.word_embeddings, input_ids, axis=0)
        types = ops.take(self.token_type_embeddings, segment_ids, axis=0)
        # [S, H], broadcast over the batch.
        positions = ops.slice(self.position_embeddings, (0, 0),
                              (seq_length, self.config.hidden_size))
        embeddings = words + types + ops.expand_dims(positions, 0)
        embeddings = ops.cast(self.layer_norm(embeddings), self.compute_dtype)
        return self.dropout(embeddings, training=training)
