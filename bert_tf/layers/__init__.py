"""Keras 3 layers of BERT."""

from bert_tf.layers.activations import get_activation
from bert_tf.layers.attention import SelfAttention, attention_mask_adder
from bert_tf.layers.common import gather_positions
from bert_tf.layers.embeddings import BertEmbeddings
from bert_tf.layers.output_head import OutputHead
from bert_tf.layers.pooler import Pooler
from bert_tf.layers.pretraining_heads import MaskedLMHead, NextSentenceHead
from bert_tf.layers.transformer import TransformerBlock, TransformerEncoder

__all__ = ["BertEmbeddings", "MaskedLMHead", "NextSentenceHead", "OutputHead", "Pooler",
           "SelfAttention", "TransformerBlock", "TransformerEncoder", "attention_mask_adder",
           "gather_positions", "get_activation"]
