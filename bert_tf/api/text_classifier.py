"""`bert_tf.TextClassifier`: fine-tune, predict and save a text classifier from Python
in a few lines, through the same task object, runner and trainer as
`run_classifier.py` (dynamic padding, fused kernels, long-input strategies included).

    classifier = bert_tf.TextClassifier.from_pretrained("uncased_L-12_H-768_A-12")
    classifier.fit(texts, labels, validation_data=(dev_texts, dev_labels), epochs=2)
    classifier.predict(["a fine film"])        # {"labels": [...], "probabilities": ...}
    classifier.save("my_classifier")           # from_pretrained("my_classifier") reloads

A saved classifier is a folder the scripts read too: Google-named weights
(`bert_model.ckpt`), `bert_config.json`, `vocab.txt`, the task file `task_info.json`
(labels, pairs, long-input strategy) and `text_classifier.json` (casing and
`max_seq_length`).
"""

import dataclasses
import os
from typing import Sequence

import numpy as np
import tensorflow as tf

from bert_tf import checkpoints, serving
from bert_tf.api import common
from bert_tf.configs import BertConfig
from bert_tf.errors import InvalidArgumentError, UserInputError
from bert_tf.modeling import BertClassifier
from bert_tf.tasks.base import DEV, TRAIN, DeviceOptions
from bert_tf.tasks.classification import dataset as classification_dataset
from bert_tf.tasks.classification import in_memory
from bert_tf.tasks.classification.features import convert_examples_to_features
from bert_tf.tasks.classification.task import (ClassificationInfo, ClassificationOptions,
                                               ClassificationTask)
from bert_tf.text import long_inputs as long_input_rules
from bert_tf.text import tokenization
from bert_tf.text.long_inputs import LongInputStrategy
from bert_tf.training import lora as lora_rules
from bert_tf.training import trainer as training
from bert_tf.training.lora import LoraOptions

SETTINGS_FILE = "text_classifier.json"


@dataclasses.dataclass
class TextClassifier(common.PretrainedFiles):
    """A BERT text classifier: `from_pretrained`, `fit`, `predict`, `save`.

    Attributes (besides `PretrainedFiles`'):
      labels: the classes, in the order of the model's outputs (None until `fit` sees
        the training labels, when neither `labels` nor `num_labels` was given).
      long_inputs: how texts longer than `max_seq_length` are read.
      model: the fine-tuned `BertClassifier`, once fitted or loaded.
      pair: whether the classifier reads pairs of texts.
    """

    labels: list[str] | None
    long_inputs: LongInputStrategy
    model: BertClassifier | None = None
    pair: bool = False

    @classmethod
    def from_pretrained(cls, path: str, labels: Sequence | None = None,
                        num_labels: int | None = None, max_seq_length: int = 128,
                        do_lower_case: bool = True,
                        long_inputs: LongInputStrategy = LongInputStrategy(),
                        ) -> "TextClassifier":
        """A classifier on a pre-trained BERT (a Google checkpoint prefix or folder, a
        Hugging Face folder, a checkpoint of this project), or one `save` wrote (its
        labels, casing, length and strategy come with it; the arguments are then not
        used).

        Args:
          path: the checkpoint or folder.
          labels: the classes (strings; numbers are turned into strings), or None to
            take the sorted labels of the training data.
          num_labels: instead of `labels`: classes "0", "1", ...
          max_seq_length: the longest model input, special tokens included.
          do_lower_case: lower-case the input (uncased models).
          long_inputs: how texts longer than `max_seq_length` are read.

        Raises:
          UserInputError: if the files are missing or do not fit together.
        """
        if common.is_saved(path, SETTINGS_FILE):
            return cls._load_saved(path)
        if labels is not None and num_labels is not None:
            raise InvalidArgumentError("num_labels", num_labels, "cannot be given with "
                                       "labels.")
        if num_labels is not None:
            labels = [str(label) for label in range(num_labels)]
        config_file, vocab_file = checkpoints.resolve_model_files(path, None, None)
        classifier = cls(path, BertConfig.from_json_file(config_file), vocab_file,
                         do_lower_case, max_seq_length,
                         None if labels is None else [str(label) for label in labels],
                         long_inputs)
        classifier.check()
        return classifier

    @classmethod
    def _load_saved(cls, path: str) -> "TextClassifier":
        settings, info, config = common.read_saved(path, SETTINGS_FILE,
                                                          ClassificationInfo)
        checkpoint = os.path.join(path, common.CHECKPOINT_NAME)
        model = BertClassifier(config, info.num_labels)
        checkpoints.load_checkpoint(model, checkpoint)
        return cls(checkpoint, config, os.path.join(path, common.VOCAB_NAME),
                   settings["do_lower_case"], settings["max_seq_length"], list(info.labels),
                   info.long_inputs, model, info.pair)

    def fit(self, texts: in_memory.Texts, labels: Sequence,
            validation_data: tuple[in_memory.Texts, Sequence] | None = None,
            epochs: float = 3.0, batch_size: int = 32, learning_rate: float = 5e-5,
            warmup_proportion: float = 0.1, early_stopping_patience: int = 0,
            output_dir: str | None = None, resume: bool = False, seed: int = 12345,
            device: DeviceOptions = DeviceOptions(),
            lora: LoraOptions = LoraOptions()) -> dict[str, float] | None:
        """Fine-tunes on `texts` (a list of strings, or a tuple of two lists for pairs)
        and their `labels`, as `run_classifier.py --do_train` does: checkpoints in
        `output_dir`, progress with an ETA in the log (shown here at INFO).

        Args:
          texts, labels: the training data.
          validation_data: `(texts, labels)` scored after training (and at every
            checkpoint with `early_stopping_patience`).
          epochs, batch_size, learning_rate, warmup_proportion,
          early_stopping_patience, seed: as the flags of the same names.
          output_dir: where checkpoints go; by default a new temporary folder.
          resume: go on from the checkpoints in `output_dir` (a run that was
            stopped); otherwise `output_dir` must be new or empty.
          device: where training runs (several GPUs, a TPU, mixed precision), as the
            scripts' distribution flags say.
          lora: train LoRA adapters and the head only (`LoraOptions(rank=8)`); `save`
            and `export` write the merged model.

        Returns:
          The dev scores (`eval_accuracy`, ...) with `validation_data`, else None.

        Raises:
          UserInputError (InvalidArgumentError): naming the argument, for data or
            options out of range, or an `output_dir` with files and not `resume`.
        """
        output_dir = common.output_dir_for_fit(output_dir, resume)
        labels = [str(label) for label in labels]
        classes = self.labels or sorted(set(labels))
        splits = {TRAIN: in_memory.to_examples(TRAIN, texts, labels)}
        if validation_data is not None:
            dev_texts, dev_labels = validation_data
            splits[DEV] = in_memory.to_examples(DEV, dev_texts,
                                                [str(label) for label in dev_labels],
                                                argument="validation_data")
        task = ClassificationTask(ClassificationOptions(
            task_name="tsv", processor=in_memory.InMemoryProcessor(splits, classes),
            **{key: value for key, value in self.long_inputs.fields().items()
               if value != LongInputStrategy().fields()[key]}))
        options = self.fit_options(
            output_dir, evaluate=validation_data is not None, epochs=epochs,
            batch_size=batch_size, learning_rate=learning_rate,
            warmup_proportion=warmup_proportion,
            early_stopping_patience=early_stopping_patience, seed=seed, device=device,
            lora=lora)
        result = common.run_shown(task, options)
        self.model, self.labels, self.pair = result.model, classes, task.info.pair
        self.long_inputs = task.long_inputs
        return result.eval_results

    def predict(self, texts: in_memory.Texts, batch_size: int = 32) -> dict:
        """The classes of `texts` (a list of strings, or a tuple of two lists for
        pairs): `labels` (one per text) and `probabilities` float32 [texts, classes],
        a long text's windows pooled as in training.

        Raises:
          UserInputError: before `fit` (or loading a fitted classifier).
        """
        if self.model is None:
            raise UserInputError("The classifier is not fine-tuned yet: call fit, or "
                                 "from_pretrained on a folder that save wrote.")
        examples = in_memory.to_examples("predict", texts)
        if not examples:
            return {"labels": [], "probabilities": np.zeros([0, len(self.labels)], np.float32)}
        tokenizer = tokenization.FullTokenizer(self.vocab_file, self.do_lower_case)
        features, _ = convert_examples_to_features(examples, self.labels, self.max_seq_length,
                                                   tokenizer, long_inputs=self.long_inputs)
        dataset = classification_dataset.classification_dataset(
            features, batch_size, is_training=False, drop_remainder=False,
            trim_padding=True)
        logits = np.concatenate(training.predict(tf.distribute.get_strategy(), self.model,
                                                 dataset))
        logits = long_input_rules.pool_logits(logits, features["example_index"],
                                              self.long_inputs.pooling)
        probabilities = tf.nn.softmax(logits).numpy()
        return {"labels": [self.labels[index] for index in probabilities.argmax(axis=1)],
                "probabilities": probabilities}

    def save(self, directory: str, format: str = "bert_tf") -> str:
        """Writes the fine-tuned classifier into the new (or empty) folder `directory`
        (see the module docstring); `from_pretrained(directory)` reloads it, and
        `run_classifier.py --init_checkpoint=directory/bert_model.ckpt` reads it. With
        `format="hugging_face"`, the folder is a Hugging Face model instead, which
        `transformers.BertForSequenceClassification.from_pretrained` loads (LoRA
        adapters merged; `id2label` the labels).

        Raises:
          UserInputError: before `fit`, or if `directory` holds files.
          InvalidArgumentError: for another `format`.
        """
        common.check_save_format(format)
        if self.model is None:
            raise UserInputError("The classifier is not fine-tuned yet: call fit first.")
        model = lora_rules.merged(self.model)
        if format == "hugging_face":
            return checkpoints.save_hugging_face(model, directory, vocab_file=self.vocab_file,
                                                 do_lower_case=self.do_lower_case,
                                                 label_list=list(self.labels))
        info = ClassificationInfo(task_name="tsv", labels=tuple(self.labels),
                                  is_regression=False, pair=self.pair,
                                  **self.long_inputs.fields())
        return common.save_folder(
            directory, model, self.config, self.vocab_file, info, SETTINGS_FILE,
            {"do_lower_case": self.do_lower_case, "max_seq_length": self.max_seq_length})

    def export(self, export_dir: str) -> str:
        """Writes a SavedModel version for TF Serving that classifies raw text (as
        `run_classifier.py --export_dir`: `serving_default` takes `text_a`, and
        `text_b` for pairs); returns the version folder."""
        if self.model is None:
            raise UserInputError("The classifier is not fine-tuned yet: call fit first.")
        return serving.export_classifier(
            lora_rules.merged(self.model), export_dir, vocab_file=self.vocab_file,
            do_lower_case=self.do_lower_case, max_seq_length=self.max_seq_length,
            label_list=self.labels, pair=self.pair, long_inputs=self.long_inputs)
