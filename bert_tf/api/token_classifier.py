"""`bert_tf.TokenClassifier`: named-entity recognition from Python in a few lines,
through the same task object, runner and trainer as `run_ner.py` (windows over long
sentences, a CRF if asked, conlleval's entity scores).

    tagger = bert_tf.TokenClassifier.from_pretrained("cased_L-12_H-768_A-12",
                                                     do_lower_case=False)
    tagger.fit(sentences, tags, validation_data=(dev_sentences, dev_tags), epochs=3)
    tagger.predict(["Ada Lovelace was born in London."])
    # [{"words": ["Ada", "Lovelace", ...], "tags": ["B-PER", "I-PER", ...],
    #   "entities": [("PER", 0, 2), ("LOC", 5, 6)]}]
    tagger.save("my_tagger")                 # from_pretrained("my_tagger") reloads

Sentences are lists of words and tags one per word, in any scheme `run_ner.py` reads
(IOB1, IOB2, IOBES, BILOU; detected); predictions are IOB2. `predict` takes raw texts,
split into words as Google's `BasicTokenizer` splits them (the words keep their case),
or lists of words. Entities are `(type, first word, one past the last word)`.
"""

import dataclasses
import os
import tempfile
from typing import Sequence

import tensorflow as tf

from bert_tf import checkpoints
from bert_tf.api import common
from bert_tf.configs import BertConfig
from bert_tf.errors import UserInputError
from bert_tf.modeling import BertCrfTokenClassifier, BertTokenClassifier
from bert_tf.tasks.base import DEV, TEST, TRAIN
from bert_tf.tasks.ner import conll, entity_metrics
from bert_tf.tasks.ner.task import NerInfo, NerOptions, NerTask
from bert_tf.text import tokenization
from bert_tf.training import lora as lora_rules
from bert_tf.training.lora import LoraOptions

SETTINGS_FILE = "token_classifier.json"


@dataclasses.dataclass
class TokenClassifier(common.PretrainedFiles):
    """A BERT word tagger (NER): `from_pretrained`, `fit`, `predict`, `save`.

    Attributes (besides `PretrainedFiles`'):
      use_crf: whether the model has a CRF on its tag logits.
      doc_stride: how many pieces apart the windows of a long sentence start (None:
        half a window).
      info: the trained task (labels, scheme, CRF), once fitted or loaded.
      model: the fine-tuned model, once fitted or loaded.
    """

    use_crf: bool = False
    doc_stride: int | None = None
    info: NerInfo | None = None
    model: BertTokenClassifier | None = None

    @classmethod
    def from_pretrained(cls, path: str, max_seq_length: int = 128,
                        do_lower_case: bool = True, use_crf: bool = False,
                        doc_stride: int | None = None) -> "TokenClassifier":
        """A tagger on a pre-trained BERT (Google checkpoint, Hugging Face folder, a
        checkpoint of this project), or one `save` wrote (its labels and settings
        come with it; the arguments are then not used).

        Raises:
          UserInputError: if the files are missing or do not fit together.
        """
        if common.is_saved(path, SETTINGS_FILE):
            settings, info, config = common.read_saved(path, SETTINGS_FILE, NerInfo)
            model_class = BertCrfTokenClassifier if info.use_crf else BertTokenClassifier
            model = model_class(config, len(info.labels))
            checkpoint = os.path.join(path, common.CHECKPOINT_NAME)
            checkpoints.load_checkpoint(model, checkpoint)
            return cls(checkpoint, config, os.path.join(path, common.VOCAB_NAME),
                       settings["do_lower_case"], settings["max_seq_length"], info.use_crf,
                       settings["doc_stride"], info, model)
        config_file, vocab_file = checkpoints.resolve_model_files(path, None, None)
        tagger = cls(path, BertConfig.from_json_file(config_file), vocab_file,
                     do_lower_case, max_seq_length, use_crf, doc_stride)
        tagger.check()
        return tagger

    def _task(self, files: dict[str, conll.ConllFile]) -> NerTask:
        return NerTask(NerOptions(doc_stride=self.doc_stride, use_crf=self.use_crf,
                                  files=files))

    def fit(self, sentences: Sequence[Sequence[str]], tags: Sequence[Sequence[str]],
            validation_data: tuple[Sequence[Sequence[str]], Sequence[Sequence[str]]]
            | None = None, epochs: float = 3.0, batch_size: int = 32,
            learning_rate: float = 5e-5, warmup_proportion: float = 0.1,
            early_stopping_patience: int = 0, output_dir: str | None = None,
            resume: bool = False, seed: int = 12345,
            lora: LoraOptions = LoraOptions()) -> dict[str, float] | None:
        """Fine-tunes on `sentences` (lists of words) and their `tags`, as
        `run_ner.py --do_train` does; the arguments are those of
        `TextClassifier.fit` (`lora` included).

        Returns:
          The dev entity scores (`eval_f1`, ...) with `validation_data`, else None.

        Raises:
          UserInputError (InvalidArgumentError): naming the argument or sentence.
        """
        output_dir = common.output_dir_for_fit(output_dir, resume)
        files = {TRAIN: conll.from_sentences("fit's sentences", sentences, tags)}
        if validation_data is not None:
            files[DEV] = conll.from_sentences("validation_data", *validation_data)
        task = self._task(files)
        options = self.fit_options(
            output_dir, evaluate=validation_data is not None, epochs=epochs,
            batch_size=batch_size, learning_rate=learning_rate,
            warmup_proportion=warmup_proportion,
            early_stopping_patience=early_stopping_patience, seed=seed, lora=lora)
        result = common.run_shown(task, options)
        self.model, self.info = result.model, task.info
        return result.eval_results

    def predict(self, texts: Sequence[str] | Sequence[Sequence[str]],
                batch_size: int = 32) -> list[dict]:
        """The tags and entities of each text (a raw string, or a list of words).

        Returns:
          One dict per text: `words`, `tags` (IOB2, one per word) and `entities`
          (`(type, start, end)`, word indices, end exclusive).

        Raises:
          UserInputError: before `fit` (or loading a fitted tagger).
        """
        if self.model is None:
            raise UserInputError("The tagger is not fine-tuned yet: call fit, or "
                                 "from_pretrained on a folder that save wrote.")
        splitter = tokenization.BasicTokenizer(do_lower_case=False)
        words = [splitter.tokenize(text) if isinstance(text, str) else list(text)
                 for text in texts]
        tagged = [sentence for sentence in words if sentence]  # Texts without words
        tags = iter(self._tags(tagged, batch_size) if tagged else [])  # need no model.
        results = []
        for sentence_words in words:
            sentence_tags = next(tags) if sentence_words else []
            results.append({"words": sentence_words, "tags": sentence_tags,
                            "entities": entity_metrics.get_chunks(sentence_tags)})
        return results

    def _tags(self, words: list[list[str]], batch_size: int) -> list[list[str]]:
        """The IOB2 tags of sentences of words, as `run_ner.py --do_predict` gives."""
        task = self._task({TEST: conll.from_sentences("predict's texts", words, None)})
        options = self.run_options(tempfile.gettempdir(), do_predict=True,
                                   predict_batch_size=batch_size)
        task.prepare(options, tokenization.FullTokenizer(self.vocab_file,
                                                         self.do_lower_case), self.info)
        return task.tags(self.model, tf.distribute.get_strategy(), TEST)[0]

    def save(self, directory: str, format: str = "bert_tf") -> str:
        """Writes the fine-tuned tagger into the new (or empty) folder `directory`,
        which `from_pretrained` reloads and `run_ner.py` reads (its
        `bert_model.ckpt`, `bert_config.json`, `vocab.txt`, `task_info.json`). With
        `format="hugging_face"`, the folder is a Hugging Face model instead, which
        `transformers.BertForTokenClassification.from_pretrained` loads (LoRA adapters
        merged; `id2label` the IOB2 tags; a CRF's transitions beside it, as
        `checkpoints.save_hugging_face` says).

        Raises:
          UserInputError: before `fit`, or if `directory` holds files.
          InvalidArgumentError: for another `format`.
        """
        common.check_save_format(format)
        if self.model is None:
            raise UserInputError("The tagger is not fine-tuned yet: call fit first.")
        model = lora_rules.merged(self.model)
        if format == "hugging_face":
            return checkpoints.save_hugging_face(model, directory, vocab_file=self.vocab_file,
                                                 do_lower_case=self.do_lower_case,
                                                 label_list=list(self.info.labels))
        return common.save_folder(
            directory, model, self.config, self.vocab_file, self.info, SETTINGS_FILE,
            {"do_lower_case": self.do_lower_case, "max_seq_length": self.max_seq_length,
             "doc_stride": self.doc_stride})
