"""`BertModel`, the BERT encoder as a Keras 3 model, and the task models built on it.

Each model names its weights as checkpoints do: `google_variable_map()` gives Google's
TF1 name of every weight (`bert/encoder/layer_0/attention/self/query/kernel`, ...),
built from its layers, and `hugging_face_head_names()` the Hugging Face names of the
head weights Hugging Face names by their role (`classifier.weight`). `bert_tf.checkpoints`
reads and writes every format through these tables, so a new task model declares its
head's names here and needs no change there. `hugging_face_architecture` names the
`transformers` class that holds the same weights, which `save_hugging_face` writes.
"""

from typing import ClassVar

import keras
from keras import ops

from bert_tf.configs import BertConfig
from bert_tf.layers import (BertEmbeddings, MaskedLMHead, NextSentenceHead, OutputHead,
                            Pooler, TransformerEncoder)
from bert_tf.layers.crf import CRF
from bert_tf.layers.dropout import Dropout

INPUT_NAMES = ("input_ids", "input_mask", "segment_ids")


class _ConfiguredModel(keras.Model):
    """A model whose only constructor argument, besides Keras' own, is a `BertConfig`."""

    #: The `transformers` class with the same weights and outputs (`BertModel`,
    #: `BertForSequenceClassification`, ...), as `config.json`'s `architectures` names
    #: it; None for a model transformers has no class for.
    hugging_face_architecture: ClassVar[str | None] = None

    def __init__(self, config: BertConfig, **kwargs):
        """Keeps `config`; subclasses create their layers after calling this."""
        super().__init__(**kwargs)
        self.config = config

    def get_config(self):
        """The constructor's arguments."""
        return {"config": self.config.to_dict(), "name": self.name, **self._extra_config()}

    def _extra_config(self) -> dict:
        """Constructor arguments a subclass adds to `config`."""
        return {}

    @classmethod
    def from_config(cls, config):
        """Rebuilds the model from `get_config`'s output."""
        config = dict(config)
        return cls(BertConfig.from_dict(config.pop("config")), **config)

    def google_variable_map(self) -> dict[str, keras.Variable]:
        """Google's TF1 variable name of every weight, in a fixed order; each model
        class lists its own."""
        raise NotImplementedError(f"{type(self).__name__} does not name its variables.")

    def hugging_face_head_names(self) -> dict[str, str]:
        """The Hugging Face name of each weight (by its Google name) that Hugging Face
        does not name by the general rule, dots for slashes and `weight` for `kernel`
        (`bert_tf.checkpoints.hugging_face_names`): the heads'. Both store these
        weights in the same layout. None by default."""
        return {}


def _dense_names(prefix: str, layer: keras.layers.Dense) -> dict[str, keras.Variable]:
    """A dense layer as Google's `tf.layers.dense` names it: `prefix/kernel` [in, out]
    and `prefix/bias`; with LoRA (`bert_tf.training.lora`), also its adapters
    `prefix/lora_a` [in, r] and `prefix/lora_b` [r, out] beside the frozen kernel."""
    # `layer.kernel` is the adapted kernel (a tensor) once LoRA is on; the variable is
    # `_kernel` either way.
    names = {f"{prefix}/kernel": layer._kernel, f"{prefix}/bias": layer.bias}
    if layer.lora_enabled:
        names[f"{prefix}/lora_a"] = layer.lora_kernel_a
        names[f"{prefix}/lora_b"] = layer.lora_kernel_b
    return names


def _layer_norm_names(prefix: str, layer: keras.layers.LayerNormalization,
                      ) -> dict[str, keras.Variable]:
    """A layer normalization as Google's code names it: `prefix/gamma` and `prefix/beta`."""
    return {f"{prefix}/gamma": layer.gamma, f"{prefix}/beta": layer.beta}


def _output_head_names(prefix: str, head: OutputHead) -> dict[str, keras.Variable]:
    """An `OutputHead` as Google names its hand-made output layers:
    `{prefix}output_weights` [num_outputs, H] and `{prefix}output_bias`."""
    return {f"{prefix}output_weights": head.output_weights,
            f"{prefix}output_bias": head.output_bias}


@keras.saving.register_keras_serializable(package="bert_tf")
class BertModel(_ConfiguredModel):
    """The BERT encoder: embeddings, transformer stack and pooler.

    Called with a dict of int32 `input_ids`, `input_mask` and `segment_ids`, each
    [batch, seq], it returns a dict with
      * `sequence_output`: [batch, seq, hidden], the last layer's output;
      * `pooled_output`: [batch, hidden], the tanh pooler on `[CLS]`;
      * `encoder_outputs`: list of every layer's [batch, seq, hidden] output.

    Called with `output_positions` (int [batch, P]), the last layer is computed only
    at `[CLS]` and those positions (it still attends to every position), which is
    exact and saves most of a layer's work when nothing else is needed, as in
    pre-training; `sequence_output` and `encoder_outputs[-1]` are then
    [batch, P, hidden], the last layer at `output_positions`.

    The weights are created in the constructor, so a checkpoint can be loaded right
    away (`bert_tf.checkpoints.load_checkpoint`).
    """

    hugging_face_architecture = "BertModel"

    def __init__(self, config: BertConfig, **kwargs):
        """Creates the encoder for `config` with freshly initialized weights."""
        kwargs.setdefault("name", "bert")
        super().__init__(config, **kwargs)
        self.embeddings = BertEmbeddings(config, name="embeddings")
        self.encoder = TransformerEncoder(config, name="encoder")
        self.pooler = Pooler(config, name="pooler")
        self.embeddings.build()
        self.encoder.build()
        self.pooler.build()
        self.built = True

    def call(self, inputs, training=None, output_positions=None):
        """Encodes a batch; see the class docstring for inputs and outputs."""
        missing = [name for name in INPUT_NAMES if name not in inputs]
        if missing:
            raise ValueError(f"BertModel inputs lack {', '.join(missing)}; it needs a dict "
                             f"with {', '.join(INPUT_NAMES)}.")
        embeddings = self.embeddings(inputs["input_ids"], inputs["segment_ids"],
                                     training=training)
        last_layer_positions = None
        if output_positions is not None:
            # Position 0 first, for the pooler.
            last_layer_positions = ops.concatenate(
                [ops.zeros_like(output_positions[:, :1]), output_positions], axis=1)
        encoder_outputs = self.encoder(embeddings, inputs["input_mask"], training=training,
                                       last_layer_positions=last_layer_positions)
        last_layer = encoder_outputs[-1]
        if output_positions is not None:
            encoder_outputs[-1] = last_layer[:, 1:]
        return {
            "sequence_output": encoder_outputs[-1],
            "pooled_output": self.pooler(last_layer),
            "encoder_outputs": encoder_outputs,
        }

    def google_variable_map(self) -> dict[str, keras.Variable]:
        """`bert/embeddings/...`, `bert/pooler/dense/...` and, per layer N,
        `bert/encoder/layer_N/...`, as in Google's released checkpoints."""
        embeddings = self.embeddings
        names = {
            "bert/embeddings/word_embeddings": embeddings.word_embeddings,
            "bert/embeddings/position_embeddings": embeddings.position_embeddings,
            "bert/embeddings/token_type_embeddings": embeddings.token_type_embeddings,
            **_layer_norm_names("bert/embeddings/LayerNorm", embeddings.layer_norm),
            **_dense_names("bert/pooler/dense", self.pooler.dense),
        }
        for index, block in enumerate(self.encoder.blocks):
            prefix = f"bert/encoder/layer_{index}"
            attention = block.attention
            names.update({
                **_dense_names(f"{prefix}/attention/self/query", attention.query),
                **_dense_names(f"{prefix}/attention/self/key", attention.key),
                **_dense_names(f"{prefix}/attention/self/value", attention.value),
                **_dense_names(f"{prefix}/attention/output/dense", attention.output_dense),
                **_layer_norm_names(f"{prefix}/attention/output/LayerNorm",
                                    block.attention_layer_norm),
                **_dense_names(f"{prefix}/intermediate/dense", block.intermediate),
                **_dense_names(f"{prefix}/output/dense", block.output_dense),
                **_layer_norm_names(f"{prefix}/output/LayerNorm", block.output_layer_norm),
            })
        return names


@keras.saving.register_keras_serializable(package="bert_tf")
class BertPretrainer(_ConfiguredModel):
    """BERT with Google's pre-training heads (masked LM and next sentence).

    Called with the encoder's inputs plus `masked_lm_positions` (int [batch, P]), it
    returns `masked_lm_logits` [batch, P, vocab_size] and `next_sentence_logits`
    [batch, 2], both float32. The masked-LM output layer is the word-embedding table.
    The encoder's last layer runs only at `[CLS]` and the masked positions, the only
    ones the heads read.
    """

    hugging_face_architecture = "BertForPreTraining"

    def __init__(self, config: BertConfig, **kwargs):
        """Creates the encoder and both heads with fresh weights."""
        kwargs.setdefault("name", "bert_pretrainer")
        super().__init__(config, **kwargs)
        self.bert = BertModel(config)
        self.masked_lm = MaskedLMHead(config, name="predictions")
        self.next_sentence = NextSentenceHead(config, name="seq_relationship")
        self.masked_lm.build()
        self.next_sentence.build()
        self.built = True

    def call(self, inputs, training=None):
        """Runs the encoder and both heads; see the class docstring."""
        if "masked_lm_positions" not in inputs:
            raise ValueError("BertPretrainer inputs lack masked_lm_positions.")
        outputs = self.bert(inputs, training=training,
                            output_positions=inputs["masked_lm_positions"])
        return {
            "masked_lm_logits": self.masked_lm(outputs["sequence_output"],
                                               self.bert.embeddings.word_embeddings),
            "next_sentence_logits": self.next_sentence(outputs["pooled_output"]),
        }

    def google_variable_map(self) -> dict[str, keras.Variable]:
        """The encoder's names, then Google's `cls/predictions/...` (the masked-LM
        transform and output bias; its output weights are the word embeddings) and
        `cls/seq_relationship/output_weights` [2, H] and `.../output_bias`."""
        masked_lm = self.masked_lm
        return {
            **self.bert.google_variable_map(),
            **_dense_names("cls/predictions/transform/dense", masked_lm.dense),
            **_layer_norm_names("cls/predictions/transform/LayerNorm", masked_lm.layer_norm),
            "cls/predictions/output_bias": masked_lm.output_bias,
            **_output_head_names("cls/seq_relationship/", self.next_sentence),
        }

    def hugging_face_head_names(self) -> dict[str, str]:
        """`cls.predictions.bias` and `cls.seq_relationship.weight` / `.bias` (the
        transform follows the general rule)."""
        return {"cls/predictions/output_bias": "cls.predictions.bias",
                "cls/seq_relationship/output_weights": "cls.seq_relationship.weight",
                "cls/seq_relationship/output_bias": "cls.seq_relationship.bias"}


class _BertWithOutputHead(_ConfiguredModel):
    """BERT, dropout, and an `OutputHead` named as Google's classifier
    (`output_weights` [num_labels, H], `output_bias` [num_labels])."""

    def __init__(self, config: BertConfig, num_labels: int, **kwargs):
        """Creates the encoder and a head with `num_labels` outputs, all fresh."""
        super().__init__(config, **kwargs)
        self.num_labels = num_labels
        self.bert = BertModel(config)
        self.dropout = Dropout(config.hidden_dropout_prob)
        self.classifier = OutputHead(config, num_labels, name="classifier")
        self.classifier.build()
        self.built = True

    def _extra_config(self) -> dict:
        return {"num_labels": self.num_labels}

    def google_variable_map(self) -> dict[str, keras.Variable]:
        """The encoder's names, then `output_weights` [num_labels, H] and `output_bias`
        at the top level, as Google's `run_classifier.py` creates them."""
        return {**self.bert.google_variable_map(), **_output_head_names("", self.classifier)}

    def hugging_face_head_names(self) -> dict[str, str]:
        """Hugging Face's `classifier.weight` [num_labels, H] and `classifier.bias`."""
        return {"output_weights": "classifier.weight", "output_bias": "classifier.bias"}


@keras.saving.register_keras_serializable(package="bert_tf")
class BertClassifier(_BertWithOutputHead):
    """Sequence classification or regression, as Google's `run_classifier.py`.

    The pooled `[CLS]` output, dropout (the config's `hidden_dropout_prob`; Google uses
    0.1), then a dense layer. Called with the encoder's inputs, it returns `logits`,
    float32 [batch, num_labels] (num_labels 1 for a regression score).
    """

    hugging_face_architecture = "BertForSequenceClassification"

    def __init__(self, config: BertConfig, num_labels: int, **kwargs):
        """Creates the encoder and the head with fresh weights."""
        kwargs.setdefault("name", "bert_classifier")
        super().__init__(config, num_labels, **kwargs)

    def call(self, inputs, training=None):
        """Encodes the batch and classifies each sequence; see the class docstring."""
        pooled = self.bert(inputs, training=training)["pooled_output"]
        return {"logits": self.classifier(self.dropout(pooled, training=training))}


@keras.saving.register_keras_serializable(package="bert_tf")
class BertTokenClassifier(_BertWithOutputHead):
    """Per-token classification (e.g. named entities): the sequence output, dropout,
    then a dense layer. Returns `logits`, float32 [batch, seq, num_labels]."""

    hugging_face_architecture = "BertForTokenClassification"

    def __init__(self, config: BertConfig, num_labels: int, **kwargs):
        """Creates the encoder and the head with fresh weights."""
        kwargs.setdefault("name", "bert_token_classifier")
        super().__init__(config, num_labels, **kwargs)
        # The pooler plays no part (and would get no gradient); it stays loadable.
        self.bert.pooler.trainable = False

    def call(self, inputs, training=None):
        """Encodes the batch and classifies every token; see the class docstring."""
        sequence = self.bert(inputs, training=training)["sequence_output"]
        return {"logits": self.classifier(self.dropout(sequence, training=training))}


@keras.saving.register_keras_serializable(package="bert_tf")
class BertCrfTokenClassifier(BertTokenClassifier):
    """`BertTokenClassifier` with a linear-chain CRF (`bert_tf.layers.crf.CRF`) on its
    logits, which adds a score for each pair of consecutive word labels.

    The chain links the word positions, those with `label_weights` > 0: the first piece
    of each word whose prediction the window gives, as `bert_tf.tasks.ner.features` marks
    them whether or not gold labels are known. `[CLS]`, `##` pieces, `[SEP]`, padding
    and context words are skipped.

    Called with the encoder's inputs and `label_weights` (float [batch, seq]), it
    returns `logits`, float32 [batch, seq, num_labels] (the CRF's emission scores), and,
    when not training, `tags`, int32 [batch, seq]: the Viterbi labels at word positions,
    0 elsewhere. The training loss is the CRF's negative log-likelihood
    (`bert_tf.tasks.ner.objectives.token_classification_loss_fn(crf=model.crf)`). The CRF's
    weights are `crf/transitions` [num_labels, num_labels] (from, to),
    `crf/start_transitions` and `crf/end_transitions` [num_labels] in checkpoints.

    transformers has no CRF: in Hugging Face format the model is a
    `BertForTokenClassification` (the encoder and the emission head), and the CRF's
    weights lie beside it in `crf_transitions.safetensors` as `transitions`,
    `start_transitions` and `end_transitions` (pytorch-crf's names and layout).
    """

    def __init__(self, config: BertConfig, num_labels: int, **kwargs):
        """Creates the encoder, the head and the (zero-initialized) CRF."""
        kwargs.setdefault("name", "bert_crf_token_classifier")
        super().__init__(config, num_labels, **kwargs)
        self.crf = CRF(num_labels, name="crf")

    def google_variable_map(self) -> dict[str, keras.Variable]:
        """`BertTokenClassifier`'s names, then `crf/transitions`,
        `crf/start_transitions` and `crf/end_transitions`."""
        return {**super().google_variable_map(),
                "crf/transitions": self.crf.transitions,
                "crf/start_transitions": self.crf.start_transitions,
                "crf/end_transitions": self.crf.end_transitions}

    def hugging_face_head_names(self) -> dict[str, str]:
        """`BertTokenClassifier`'s, then the CRF's names in
        `crf_transitions.safetensors`: `transitions`, `start_transitions` and
        `end_transitions`."""
        return {**super().hugging_face_head_names(),
                **{f"crf/{name}": name
                   for name in ("transitions", "start_transitions", "end_transitions")}}

    def call(self, inputs, training=None):
        """Emission scores, and the decoded tags when not training; see the class
        docstring."""
        outputs = super().call(inputs, training=training)
        if not training:
            if "label_weights" not in inputs:
                raise ValueError("BertCrfTokenClassifier inputs lack label_weights, the "
                                 "word positions the CRF decodes.")
            outputs["tags"] = self.crf.decode(outputs["logits"],
                                              inputs["label_weights"] > 0)
        return outputs


@keras.saving.register_keras_serializable(package="bert_tf")
class BertSpanExtractor(_ConfiguredModel):
    """Extractive question answering, as Google's `run_squad.py` (`create_model`): the
    sequence output, without dropout, times `cls/squad/output_weights` [2, H] plus
    `cls/squad/output_bias` [2] gives every position a start and an end logit.

    Called with the encoder's inputs, it returns `start_logits` and `end_logits`,
    float32 [batch, seq]. Hugging Face's `BertForQuestionAnswering` holds the same
    head as `qa_outputs.weight` [2, H] and `qa_outputs.bias`.
    """

    hugging_face_architecture = "BertForQuestionAnswering"

    def __init__(self, config: BertConfig, **kwargs):
        """Creates the encoder and the span head with fresh weights."""
        kwargs.setdefault("name", "bert_span_extractor")
        super().__init__(config, **kwargs)
        self.bert = BertModel(config)
        # The pooler plays no part (and would get no gradient); it stays loadable.
        self.bert.pooler.trainable = False
        self.span = OutputHead(config, 2, name="squad")
        self.span.build()
        self.built = True

    def call(self, inputs, training=None):
        """Encodes the batch and scores every position; see the class docstring."""
        logits = self.span(self.bert(inputs, training=training)["sequence_output"])
        return {"start_logits": logits[..., 0], "end_logits": logits[..., 1]}

    def google_variable_map(self) -> dict[str, keras.Variable]:
        """The encoder's names, then `cls/squad/output_weights` and
        `cls/squad/output_bias`."""
        return {**self.bert.google_variable_map(),
                **_output_head_names("cls/squad/", self.span)}

    def hugging_face_head_names(self) -> dict[str, str]:
        """Hugging Face's `qa_outputs.weight` [2, H] and `qa_outputs.bias`."""
        return {"cls/squad/output_weights": "qa_outputs.weight",
                "cls/squad/output_bias": "qa_outputs.bias"}
