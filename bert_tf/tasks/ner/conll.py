"""Reading CoNLL column files for named-entity recognition, and tag-scheme conversion.

A CoNLL file holds one word per line, the word in the first column and its tag in the
last, with any number of columns between (CoNLL-2003: word, POS, chunk, entity), split
by spaces or tabs. A blank line ends a sentence; a line whose word is `-DOCSTART-` starts
a new document:

    -DOCSTART- -X- -X- O

    EU NNP B-NP B-ORG
    rejects VBZ B-VP O
    German JJ B-NP B-MISC

Tags are `O` or `X-TYPE` with the prefix `X` from one of these schemes:

    scheme  prefixes     an entity of three words, and two touching one-word entities
    iob1    I B          I-PER I-PER I-PER    I-LOC B-LOC   (B only where two touch)
    iob2    B I          B-PER I-PER I-PER    B-LOC B-LOC
    iobes   B I E S      B-PER I-PER E-PER    S-LOC S-LOC
    bilou   B I L U      B-PER I-PER L-PER    U-LOC U-LOC

CoNLL-2003 ships IOB1. Whatever the file's scheme, the reader returns IOB2 tags (every
entity starts with `B-`), and `from_iob2` converts back (`bert_tf.text.tag_schemes`).
"""

import dataclasses
import re
from collections.abc import Sequence

from bert_tf import file_checks
from bert_tf.errors import UserInputError
# The tag schemes live below the tasks (serving chunks entities with them too); they
# are part of this module's API as well.
from bert_tf.text.tag_schemes import (BILOU_TO_IOBES, OUTSIDE, SCHEME_PREFIXES, SCHEMES,
                                      check_scheme_name, detect_scheme, from_iob2,
                                      split_tag, to_iob2)

DOCSTART = "-DOCSTART-"
# Default file names of each split in a data directory, in order of preference. The
# `eng.*` names are those of the original CoNLL-2003 distribution.
SPLIT_FILES = {
    "train": ("train.txt", "eng.train"),
    "dev": ("dev.txt", "valid.txt", "eng.testa"),
    "test": ("test.txt", "eng.testb"),
}

_COLUMN_SEPARATOR = re.compile(r"[ \t]+")


@dataclasses.dataclass(frozen=True)
class Sentence:
    """One sentence: its words and their IOB2 tags (same length).

    `path` and `line` (1-based, of the first word) locate it in its file, so that later
    errors can name the line: word `i` is on line `line + i`. A sentence held in memory
    has its position in the list as `number` instead, and `path` names the list.
    """

    words: list[str]
    tags: list[str]
    path: str = ""
    line: int = 0
    number: int | None = None


Document = list[Sentence]


@dataclasses.dataclass(frozen=True)
class ConllFile:
    """A read CoNLL file: its documents (lists of sentences, IOB2 tags) and the tag
    scheme the file was written in (detected or given)."""

    path: str
    scheme: str
    documents: list[Document]

    @property
    def sentences(self) -> list[Sentence]:
        """All sentences, document after document."""
        return [sentence for document in self.documents for sentence in document]


def read_conll(path: str, scheme: str = "auto") -> ConllFile:
    """Reads a CoNLL file (local or `gs://`) into documents of sentences, IOB2 tags.

    Args:
      path: the file.
      scheme: the file's tag scheme, one of `SCHEMES`, or "auto" to detect it over the
        whole file (see `detect_scheme`). A given scheme is checked strictly: `iob2`
        refuses an entity that starts with `I-`; `iobes`/`bilou` refuse `I-`/`E-`
        (`L-`) that does not continue an entity and an entity left open. `iob1` takes
        `B-` anywhere.

    Returns:
      The `ConllFile`; documents without sentences (e.g. before the first
      `-DOCSTART-`) are left out.

    Raises:
      UserInputError: if the file is missing, not UTF-8 or holds no sentence, or a line
        is malformed (one column only, a tag that is not `O` or `X-TYPE` of the scheme,
        a sequence the scheme does not allow); the message names the file and line.
    """
    check_scheme_name(scheme, allow_auto=True)
    documents = _parse_documents(path, _read_lines(path))
    if not any(documents):
        raise UserInputError(
            f"CoNLL file {path!r} holds no sentence. It needs one word per line, the "
            "word first and the tag last, and a blank line after each sentence.")
    return _checked_file(path, documents, scheme)


def from_sentences(name: str, words: Sequence[Sequence[str]],
                   tags: Sequence[Sequence[str]] | None, scheme: str = "auto") -> ConllFile:
    """A `ConllFile` of one document from sentences held in memory (the Python API),
    checked and converted as `read_conll` checks a file; without `tags`, every word is
    tagged `O` (text to predict).

    Args:
      name: what messages call the data (e.g. "fit's sentences").
      words: the words of each sentence.
      tags: the tag of each word, in `scheme`.
      scheme: as for `read_conll`.

    Raises:
      UserInputError: naming `name` and the sentence, for a sentence whose tags do not
        match its words or the scheme, or no sentence at all.
    """
    check_scheme_name(scheme, allow_auto=True)
    if isinstance(words, str) or not words:
        raise UserInputError(f"{name}: give a list of sentences, each a list of words.")
    if tags is not None and len(tags) != len(words):
        raise UserInputError(f"{name}: {len(tags)} tag sequences for {len(words)} "
                             "sentences; give one per sentence.")
    sentences = []
    for number, sentence_words in enumerate(words):
        if isinstance(sentence_words, str):
            raise UserInputError(f"{name}: sentence {number} is a string; give each "
                                 "sentence as a list of words.")
        sentence_tags = [OUTSIDE] * len(sentence_words) if tags is None else tags[number]
        if len(sentence_tags) != len(sentence_words):
            raise UserInputError(f"{name}: sentence {number} has {len(sentence_words)} "
                                 f"words but {len(sentence_tags)} tags.")
        sentences.append(Sentence(list(sentence_words), list(sentence_tags), name,
                                  number=number))
    return _checked_file(name, [sentences], scheme)


def _checked_file(path: str, documents: list[Document], scheme: str) -> ConllFile:
    """The `ConllFile` of `documents` once their tags are checked (the scheme
    detected, if "auto") and converted to IOB2."""
    sentences = [sentence for document in documents for sentence in document]
    for sentence in sentences:
        _check_tag_format(sentence, scheme)
    if scheme == "auto":
        try:
            scheme = detect_scheme([sentence.tags for sentence in sentences])
        except ValueError as error:
            raise UserInputError(f"CoNLL file {path!r}: {error}. Use one tag scheme "
                                 "throughout the file.") from error
    for sentence in sentences:
        _check_tag_sequence(sentence, scheme)
    documents = [[dataclasses.replace(sentence, tags=to_iob2(sentence.tags))
                  for sentence in document] for document in documents]
    return ConllFile(path=path, scheme=scheme, documents=documents)


def split_path(data_dir: str, split: str) -> str:
    """The file of `split` ("train", "dev" or "test") in `data_dir`: the first that
    exists of `SPLIT_FILES[split]` (dev: `dev.txt`, `valid.txt`, `eng.testa`).

    Raises:
      UserInputError: if none exists; the message lists the paths looked for.
    """
    import tensorflow as tf  # Only file access needs TensorFlow (gs:// paths).

    if split not in SPLIT_FILES:
        raise ValueError(f"split must be one of {sorted(SPLIT_FILES)}, got {split!r}")
    candidates = [_join(data_dir, name) for name in SPLIT_FILES[split]]
    for candidate in candidates:
        if tf.io.gfile.exists(candidate):
            return candidate
    raise UserInputError(
        f"No {split} file in {data_dir!r}: looked for "
        f"{' or '.join(repr(c) for c in candidates)}. Put the {split} split there in "
        "CoNLL format.")


def read_split(data_dir: str, split: str, scheme: str = "auto") -> ConllFile:
    """Reads the `split` file of `data_dir` (see `split_path` and `read_conll`)."""
    return read_conll(split_path(data_dir, split), scheme)


def label_list(sentences: Sequence[Sentence]) -> list[str]:
    """The IOB2 labels of the entity types in `sentences`: "O" first, then `B-T` and
    `I-T` for every type T, sorted (both prefixes even if one never occurs, so that a
    type seen only in one-word entities can still be predicted inside longer ones)."""
    types = {split_tag(tag)[1] for sentence in sentences for tag in sentence.tags}
    types.discard("")
    return [OUTSIDE] + sorted(f"{prefix}-{t}" for t in types for prefix in "BI")


def _join(directory: str, name: str) -> str:
    return directory.rstrip("/") + "/" + name if directory else name


def _read_lines(path: str) -> list[str]:
    """The file's lines (without line ends), or a UserInputError saying what is wrong."""
    import tensorflow as tf  # Only file access needs TensorFlow (gs:// paths).

    if not tf.io.gfile.exists(path):
        raise UserInputError(f"CoNLL file {path!r} does not exist.")
    return file_checks.read_text(path, lambda line: UserInputError(
        f"CoNLL file {path!r}, line {line}: not UTF-8. Save the file as UTF-8."),
        encoding="utf-8-sig").split("\n")


def _parse_documents(path: str, lines: list[str]) -> list[Document]:
    """Splits lines into documents of sentences (tags not checked yet)."""
    documents: list[Document] = [[]]
    words: list[str] = []
    tags: list[str] = []
    first_line = 0

    def end_sentence():
        if words:
            documents[-1].append(Sentence(list(words), list(tags), path, first_line))
            words.clear()
            tags.clear()

    for number, line in enumerate(lines, start=1):
        line = line.strip(" \t\r")
        if not line:
            end_sentence()
            continue
        columns = _COLUMN_SEPARATOR.split(line)
        if columns[0] == DOCSTART:
            end_sentence()
            documents.append([])
            continue
        if len(columns) < 2:
            raise UserInputError(
                f"CoNLL file {path!r}, line {number}: only one column ({line!r}). Each "
                "line needs the word first and its tag last, separated by spaces or "
                "tabs (e.g. 'Paris B-LOC'); sentences end with a blank line.")
        if not words:
            first_line = number
        words.append(columns[0])
        tags.append(columns[-1])
    end_sentence()
    return [document for document in documents if document]


def _tag_error(sentence: Sentence, index: int, message: str) -> UserInputError:
    if sentence.number is not None:
        return UserInputError(f"{sentence.path}: sentence {sentence.number}, word {index} "
                              f"({sentence.words[index]!r}): {message}")
    return UserInputError(f"CoNLL file {sentence.path!r}, line {sentence.line + index}: "
                          f"{message}")


def _check_tag_format(sentence: Sentence, scheme: str) -> None:
    """Every tag is `O` or `X-TYPE` with a prefix of `scheme` (any scheme for "auto")."""
    prefixes = "BIESLU" if scheme == "auto" else SCHEME_PREFIXES[scheme]
    for index, tag in enumerate(sentence.tags):
        try:
            prefix, _ = split_tag(tag)
        except ValueError:
            prefix = None
        if prefix != OUTSIDE and (prefix is None or prefix not in prefixes):
            allowed = ", ".join(f"{p}-TYPE" for p in prefixes)
            raise _tag_error(sentence, index,
                             f"tag {tag!r} is not 'O' or one of {allowed} (tag scheme "
                             f"{scheme}). The tag goes in the last column.")


def _check_tag_sequence(sentence: Sentence, scheme: str) -> None:
    """The order of tags is one `scheme` allows (IOB1 allows any order)."""
    if scheme == "iob1":
        return
    tags = [split_tag(tag) for tag in sentence.tags]
    tags = [(BILOU_TO_IOBES.get(prefix, prefix), t) for prefix, t in tags]
    last, single = ("L", "U") if scheme == "bilou" else ("E", "S")
    previous_prefix, previous_type = OUTSIDE, ""
    for index, (prefix, entity_type) in enumerate(tags):
        tag = sentence.tags[index]
        open_entity = previous_prefix in ("B", "I")
        if prefix in ("I", "E") and not (open_entity and previous_type == entity_type):
            if scheme == "iob2":
                hint = ("An IOB2 entity starts with B-. If the file is IOB1 (as "
                        "CoNLL-2003 ships), read it with tag scheme 'iob1' or 'auto'.")
            else:
                hint = (f"In {scheme.upper()} an entity of several words is B-TYPE, "
                        f"I-TYPE..., {last}-TYPE; one of one word is {single}-TYPE.")
            raise _tag_error(sentence, index,
                             f"tag {tag!r} does not continue an entity of type "
                             f"{entity_type!r}. {hint}")
        if scheme != "iob2" and open_entity and not (
                prefix in ("I", "E") and previous_type == entity_type):
            raise _tag_error(sentence, index - 1,
                             f"tag {sentence.tags[index - 1]!r} opens an entity that "
                             f"the next tag ({tag!r}) does not continue; end it with "
                             f"{last}-{previous_type} or write a one-word entity as "
                             f"{single}-{previous_type}.")
        previous_prefix, previous_type = prefix, entity_type
    if scheme != "iob2" and previous_prefix in ("B", "I"):
        index = len(tags) - 1
        raise _tag_error(sentence, index,
                         f"tag {sentence.tags[index]!r} opens an entity at the end of "
                         f"the sentence; end it with {last}-{previous_type} or write a "
                         f"one-word entity as {single}-{previous_type}.")
