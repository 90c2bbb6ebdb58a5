"""A model written as a Hugging Face model folder, which `transformers` loads with
`from_pretrained` (and `keras_hub` with `from_preset`):

    directory/
      config.json                  transformers' BertConfig: sizes, `hidden_act`,
                                   `architectures`, labels (`id2label`, `label2id`)
      model.safetensors            the weights under transformers' names, [out, in]
      vocab.txt                    the WordPiece vocabulary, copied
      tokenizer_config.json        BertTokenizer: casing, special tokens, model_max_length
      special_tokens_map.json
      crf_transitions.safetensors  only for a BertCrfTokenClassifier (see below)

Names. Each model declares its transformers class (`hugging_face_architecture`:
`BertModel`, `BertForPreTraining`, `BertForSequenceClassification`,
`BertForTokenClassification`, `BertForQuestionAnswering`) and its head weights'
names (`hugging_face_head_names()`); every other name follows from Google's by
`variable_names.hugging_face_names` (`bert/encoder/layer_0/attention/self/query/kernel`
-> `encoder.layer.0.attention.self.query.weight`, LayerNorm `gamma`/`beta` ->
`weight`/`bias`), a Dense kernel [in, out] transposed to PyTorch's [out, in]. A bare
`BertModel`'s names have no prefix; a task model's encoder is under `bert.`, as
transformers saves them. The weights are exactly those transformers' own
`save_pretrained` writes for the class:
  * the pooler, except for token classification and question answering, whose
    transformers classes have none (bert_tf's are frozen and unused there);
  * for pre-training, `cls.predictions.transform.*`, `cls.predictions.bias` and
    `cls.seq_relationship.*`, not the masked-LM decoder: transformers ties
    `cls.predictions.decoder.weight` to the word embeddings and its bias to
    `cls.predictions.bias`, as Google's head uses the embedding table itself.

Activation. bert_tf's `"gelu"` (Google's tanh approximation) is transformers'
`"gelu_new"`, `"gelu_exact"` its `"gelu"` (`BertConfig.to_hugging_face_dict`).

CRF. transformers has no CRF layer: a `BertCrfTokenClassifier` is written as a
`BertForTokenClassification` (the encoder and the emission scores), and its CRF beside
it in `crf_transitions.safetensors`: `transitions` [T, T] (from, to),
`start_transitions` and `end_transitions` [T], as pytorch-crf's `CRF` names them
(`torchcrf.CRF(T, batch_first=True).load_state_dict(...)` reads them). A warning says
that transformers alone decodes without the CRF (the argmax of each token's scores).
`load_checkpoint` reads the folder back, CRF included.

The folder is written under a temporary name beside `directory` and renamed when
complete, so an interrupted export leaves no half-written model folder; an existing
folder that holds anything is replaced only with `overwrite=True`.
"""

import json
import os
from typing import Any, Sequence

import numpy as np
import tensorflow as tf
from absl import logging

from bert_tf.checkpoints import formats
from bert_tf.checkpoints.variable_names import (NamedModel, google_variable_map,
                                                hugging_face_head_names,
                                                hugging_face_names)
from bert_tf.errors import InvalidArgumentError
from bert_tf.io import temporary_path
from bert_tf.modeling import BertCrfTokenClassifier
from bert_tf.text import tokenization

CONFIG_FILE = "config.json"
VOCAB_FILE = "vocab.txt"
TOKENIZER_CONFIG_FILE = "tokenizer_config.json"
SPECIAL_TOKENS_FILE = "special_tokens_map.json"

# transformers' classes: (prefix of the encoder's weights, whether it has the pooler).
_ARCHITECTURES = {
    "BertModel": ("", True),
    "BertForPreTraining": ("bert.", True),
    "BertForSequenceClassification": ("bert.", True),
    "BertForTokenClassification": ("bert.", False),
    "BertForQuestionAnswering": ("bert.", False),
}
# Classes whose output layer has one output per label (`num_labels`).
_LABELLED = ("BertForSequenceClassification", "BertForTokenClassification")
# BertTokenizer's special tokens (its argument names), as Google's vocabularies spell them.
_SPECIAL_TOKENS = {"unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]",
                   "cls_token": "[CLS]", "mask_token": "[MASK]"}


def hugging_face_architecture(model: NamedModel) -> str:
    """The transformers class `model` is written as (`model.hugging_face_architecture`).

    Raises:
      TypeError: for a model transformers has no class for.
    """
    architecture = getattr(model, "hugging_face_architecture", None)
    if architecture not in _ARCHITECTURES:
        raise TypeError(f"{type(model).__name__} has no Hugging Face architecture; "
                        f"the models that have one declare one of "
                        f"{', '.join(_ARCHITECTURES)} (hugging_face_architecture).")
    return architecture


def weight_prefix(model: NamedModel) -> str:
    """What transformers' class of `model` puts before the encoder's weight names
    (`bert.` in the task models, nothing in `BertModel`)."""
    return _ARCHITECTURES[hugging_face_architecture(model)][0]


def hugging_face_tensors(model: NamedModel,
                         ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """`model`'s weights under transformers' names, in transformers' layout (float32
    [out, in] for dense weights).

    Returns:
      (the tensors of `model.safetensors`, those of `crf_transitions.safetensors`:
      empty for a model without a CRF).

    Raises:
      TypeError: for a model transformers has no class for.
    """
    prefix, has_pooler = _ARCHITECTURES[hugging_face_architecture(model)]
    head_names = hugging_face_head_names(model)
    has_crf = isinstance(model, BertCrfTokenClassifier)
    tensors: dict[str, np.ndarray] = {}
    crf: dict[str, np.ndarray] = {}
    for google_name, variable in google_variable_map(model).items():
        if google_name.startswith("bert/pooler/") and not has_pooler:
            continue
        value = np.asarray(variable.numpy(), dtype=np.float32)
        if google_name in head_names:
            name = head_names[google_name]
        else:
            candidates, transpose = hugging_face_names(google_name)
            name = candidates[0]
            if google_name.startswith("bert/"):
                name = prefix + name
            if transpose:
                value = value.T
        target = crf if has_crf and google_name.startswith("crf/") else tensors
        if name in target:
            raise ValueError(f"Two weights of {type(model).__name__} are both named "
                             f"{name!r} in Hugging Face format; its names are ambiguous.")
        target[name] = np.ascontiguousarray(value)
    return tensors, crf


def hugging_face_config(model: NamedModel, label_list: Sequence[str] | None = None,
                        pad_token_id: int = 0) -> dict[str, Any]:
    """`config.json` of `model`: transformers' `BertConfig` of its config
    (`BertConfig.to_hugging_face_dict`), the class in `architectures`, and for a
    classifier `num_labels`, `id2label` and `label2id` (keys "0", "1", ... as
    transformers writes them; the labels `LABEL_0`, ... when `label_list` is None) and,
    for one output, `problem_type` "regression".

    Raises:
      InvalidArgumentError: if `label_list` is given for a model without labels, or
        its length is not the model's number of outputs, or it repeats a label.
    """
    architecture = hugging_face_architecture(model)
    values = {"architectures": [architecture], **model.config.to_hugging_face_dict(),
              "pad_token_id": pad_token_id}
    if architecture not in _LABELLED:
        if label_list is not None:
            raise InvalidArgumentError("label_list", label_list, f"is only for a "
                                       f"classifier; a {type(model).__name__} has no labels.")
        return values
    num_labels = model.num_labels
    labels = ([f"LABEL_{index}" for index in range(num_labels)] if label_list is None
              else list(label_list))
    if len(labels) != num_labels:
        raise InvalidArgumentError("label_list", label_list, f"must hold one label per "
                                   f"output of the model: {num_labels}, not {len(labels)}.")
    if len(set(labels)) != len(labels) or not all(isinstance(label, str) for label in labels):
        raise InvalidArgumentError("label_list", label_list, "must hold distinct strings.")
    values.update(num_labels=num_labels,
                  id2label={str(index): label for index, label in enumerate(labels)},
                  label2id={label: index for index, label in enumerate(labels)})
    if architecture == "BertForSequenceClassification" and num_labels == 1:
        values["problem_type"] = "regression"
    return values


def tokenizer_files(vocab: Sequence[str], do_lower_case: bool, model_max_length: int,
                    ) -> dict[str, dict[str, Any]]:
    """`tokenizer_config.json` and `special_tokens_map.json` of transformers'
    `BertTokenizer` for the vocabulary `vocab` (its tokens in id order): Google's
    tokenization (accents stripped exactly when lower-casing, CJK characters split),
    the special tokens the vocabulary holds (one it lacks is null, so the tokenizer
    adds no token the model has no embedding for)."""
    present = set(vocab)
    special = {name: token if token in present else None
               for name, token in _SPECIAL_TOKENS.items()}
    config = {"tokenizer_class": "BertTokenizer", "do_lower_case": do_lower_case,
              "do_basic_tokenize": True, "strip_accents": None,
              "tokenize_chinese_chars": True, "model_max_length": model_max_length,
              "clean_up_tokenization_spaces": False, **special}
    return {TOKENIZER_CONFIG_FILE: config,
            SPECIAL_TOKENS_FILE: {name: token for name, token in special.items() if token}}


def check_hugging_face_directory(directory: str, argument: str = "directory",
                           overwrite: bool = False) -> None:
    """Refuses a `directory` that is a file, or a folder holding anything unless
    `overwrite`: checked by `save_hugging_face` (`argument` "directory"), and by the
    scripts before their work (`argument` the flag's name).

    Raises:
      InvalidArgumentError: naming `argument`.
    """
    gfile = tf.io.gfile
    if not directory:
        raise InvalidArgumentError(argument, directory, "must name a folder.")
    if gfile.exists(directory) and not gfile.isdir(directory):
        raise InvalidArgumentError(argument, directory, "is a file; give a folder for the "
                                   "Hugging Face model.")
    if not overwrite and gfile.isdir(directory) and gfile.listdir(directory):
        # The scripts' flags have no overwrite: a Python caller's has.
        replace = " (or pass overwrite=True)" if argument == "directory" else ""
        raise InvalidArgumentError(argument, directory, "is a folder that holds files "
                                   f"already; choose a new or empty folder{replace}.")


def save_hugging_face(model: NamedModel, directory: str, *, vocab_file: str,
                      do_lower_case: bool, label_list: Sequence[str] | None = None,
                      overwrite: bool = False) -> str:
    """Writes `model` as a Hugging Face model folder (see the module docstring), which
    `transformers.<hugging_face_architecture>.from_pretrained(directory)` loads with no
    missing or unexpected weight and which gives the same outputs.

    Args:
      model: a bert_tf model (`BertModel`, `BertPretrainer`, `BertClassifier`,
        `BertTokenClassifier`, `BertCrfTokenClassifier`, `BertSpanExtractor`).
      directory: the folder to write (created, with its parents).
      vocab_file: the model's `vocab.txt`, copied into the folder.
      do_lower_case: whether the model's input is lower-cased (uncased models).
      label_list: a classifier's label names, in the order of its outputs (the
        `id2label` of `config.json`); None names them `LABEL_0`, `LABEL_1`, ...
      overwrite: replace a folder that holds anything; off by default.

    Returns:
      `directory`.

    Raises:
      InvalidArgumentError: if `directory` is a file or a folder holding files (without
        `overwrite`), `label_list` does not fit the model, or the vocabulary is larger
        than the model's.
      UserInputError (VocabError): if the vocabulary cannot be read.
      TypeError: for a model transformers has no class for.
    """
    check_hugging_face_directory(directory, overwrite=overwrite)
    vocab = list(tokenization.load_vocab(vocab_file))
    if len(vocab) > model.config.vocab_size:
        raise InvalidArgumentError("vocab_file", vocab_file, f"has {len(vocab)} tokens, "
                                   f"more than the model's vocab_size "
                                   f"({model.config.vocab_size}); give the model's own "
                                   "vocabulary.")
    config = hugging_face_config(model, label_list,
                                 vocab.index("[PAD]") if "[PAD]" in vocab else 0)
    tensors, crf = hugging_face_tensors(model)
    if crf:
        logging.warning(
            "transformers has no CRF: %s holds the model as BertForTokenClassification, "
            "which decodes without the CRF (the best label of each token alone); the "
            "CRF's weights are in %s (pytorch-crf's names).", directory, formats.CRF_FILE)
    files = {CONFIG_FILE: config,
             **tokenizer_files(vocab, do_lower_case, model.config.max_position_embeddings)}

    directory = directory.rstrip("/") or "/"
    temporary = temporary_path(directory)
    try:
        tf.io.gfile.makedirs(temporary)
        write_safetensors(os.path.join(temporary, formats.SAFETENSORS_FILE), tensors)
        if crf:
            write_safetensors(os.path.join(temporary, formats.CRF_FILE), crf)
        tf.io.gfile.copy(vocab_file, os.path.join(temporary, VOCAB_FILE))
        for name, values in files.items():
            with tf.io.gfile.GFile(os.path.join(temporary, name), "w") as writer:
                writer.write(json.dumps(values, indent=2, ensure_ascii=False) + "\n")
        # Checked again: another writer may have filled the folder meanwhile.
        check_hugging_face_directory(directory, overwrite=overwrite)
        _replace_directory(temporary, directory)
    finally:
        if tf.io.gfile.exists(temporary):
            tf.io.gfile.rmtree(temporary)
    logging.info("Wrote the model as Hugging Face %s to %s", config["architectures"][0],
                 directory)
    return directory


def write_safetensors(path: str, tensors: dict[str, np.ndarray]) -> None:
    """Writes `tensors` as a safetensors file with the metadata `{"format": "pt"}`
    that transformers' PyTorch loaders (before version 5) require."""
    from safetensors.numpy import save  # Only needed for this format.
    with tf.io.gfile.GFile(path, "wb") as writer:
        writer.write(save(tensors, metadata={"format": "pt"}))


def _replace_directory(source: str, target: str) -> None:
    """Renames the complete folder `source` to `target`; a `target` already there
    (empty, or replaced with `overwrite`) is moved aside first and removed last."""
    gfile = tf.io.gfile
    previous = None
    if gfile.exists(target):
        previous = temporary_path(target)
        gfile.rename(target, previous)
    try:
        gfile.rename(source, target)
    except BaseException:
        if previous is not None:
            gfile.rename(previous, target)
        raise
    if previous is not None:
        gfile.rmtree(previous)
