"""Word-level results of a token classifier: tags per word, entity scores, and the
prediction file in CoNLL format.

Window predictions go back to words with `bert_tf.tasks.ner.features.word_predictions`
(every word exactly once), become IOB2 tags through the label list, and are written
and scored in the tag scheme of the file they are for, as conlleval would score them.
"""

from collections.abc import Iterator, Sequence

import numpy as np
import tensorflow as tf

from bert_tf.tasks.ner import entity_metrics
from bert_tf.tasks.ner import conll
from bert_tf.tasks.ner import features as ner_features


def sentence_tags(window_labels: np.ndarray, mapping: ner_features.WindowMapping,
                  sentences: Sequence[conll.Sentence],
                  labels: Sequence[str]) -> list[list[str]]:
    """The predicted IOB2 tag of every word of every sentence.

    Args:
      window_labels: int label ids [N, max_seq_length] of the windows (argmax or
        Viterbi, `bert_tf.tasks.ner.objectives.decode`).
      mapping: the windows' `NerFeatures.mapping`.
      sentences: the sentences the windows were made from, in order.
      labels: the label list (id -> IOB2 tag).

    Returns:
      one list of tags per sentence, one tag per word.
    """
    ids = ner_features.word_predictions(window_labels, mapping, sentences)
    return [[labels[index] for index in sentence] for sentence in ids]


def file_scheme(conll_file: conll.ConllFile, default: str) -> str:
    """The scheme to write and score `conll_file` in: its own, or `default` (the
    training file's) when it holds no entity tag to tell (e.g. unlabelled test data
    written with `O` tags)."""
    has_entities = any(tag != conll.OUTSIDE for sentence in conll_file.sentences
                       for tag in sentence.tags)
    return conll_file.scheme if has_entities else default


def entity_scores(conll_file: conll.ConllFile, predicted: Sequence[Sequence[str]],
                  scheme: str, prefix: str = "eval_") -> tuple[dict[str, float], str]:
    """Entity-level scores of predicted tags against the file's gold tags.

    Both are put in `scheme` first, so that the token accuracy compares tags as the
    file writes them.

    Returns:
      the scores by name, `{prefix}precision`, `{prefix}recall`, `{prefix}f1`,
      `{prefix}accuracy` and per entity type `{prefix}precision_TYPE`,
      `{prefix}recall_TYPE`, `{prefix}f1_TYPE`; and conlleval's report as text.
    """
    gold = [conll.from_iob2(sentence.tags, scheme) for sentence in conll_file.sentences]
    result = entity_metrics.evaluate(gold, [conll.from_iob2(tags, scheme)
                                            for tags in predicted])
    scores = {f"{prefix}{name}": float(result[name])
              for name in ("precision", "recall", "f1", "accuracy")}
    for entity_type, values in result["per_type"].items():
        for name in ("precision", "recall", "f1"):
            scores[f"{prefix}{name}_{entity_type}"] = float(values[name])
    return scores, entity_metrics.format_report(result)


def conll_lines(conll_file: conll.ConllFile, predicted: Sequence[Sequence[str]],
                scheme: str) -> Iterator[str]:
    """The prediction file: `word gold predicted` per line (tags in `scheme`), a blank
    line after each sentence, and, if the input file marks documents, a
    `-DOCSTART- O O` line (and a blank line) before each document, as conlleval reads
    it (every line with the same number of columns).

    Yields:
      lines ending in a newline.

    Raises:
      ValueError: if `predicted` does not have one tag per word of the file.
    """
    sentences = iter(predicted)
    marks_documents = _has_docstart(conll_file.path)
    for document in conll_file.documents:
        if marks_documents:
            yield f"{conll.DOCSTART} {conll.OUTSIDE} {conll.OUTSIDE}\n\n"
        for sentence in document:
            tags = next(sentences, None)
            if tags is None or len(tags) != len(sentence.words):
                raise ValueError(f"the predictions do not match the words of "
                                 f"{conll_file.path} (line {sentence.line})")
            gold = conll.from_iob2(sentence.tags, scheme)
            for word, gold_tag, tag in zip(sentence.words, gold,
                                           conll.from_iob2(tags, scheme)):
                yield f"{word} {gold_tag} {tag}\n"
            yield "\n"
    if next(sentences, None) is not None:
        raise ValueError(f"more predicted sentences than {conll_file.path} holds")


def _has_docstart(path: str) -> bool:
    """Whether the file has `-DOCSTART-` lines (a file without them is one document)."""
    with tf.io.gfile.GFile(path, "rb") as reader:
        return any(line.lstrip().startswith(conll.DOCSTART.encode()) for line in reader)
