"""Reading and checking SQuAD 1.1 / 2.0 JSON files, as Google's `read_squad_examples`.

The layout (keys other than these, such as `title`, `version` or SQuAD 2.0's
`plausible_answers`, are ignored):

    {"data": [{"paragraphs": [{"context": "Tesla was born in 1856 in Smiljan.",
                               "qas": [{"id": "q1", "question": "When was Tesla born?",
                                        "answers": [{"text": "1856", "answer_start": 18}],
                                        "is_impossible": false}]}]}]}

Each context is split into *words* on whitespace only (" ", tab, CR, LF and U+202F,
Google's `doc_tokens`): punctuation stays attached (`Smiljan.` is one word), and
WordPiece tokenization comes later, per word (`bert_tf.tasks.squad.features`). An
answer is located by `answer_start`, a character offset in the context, and mapped to
the words holding its first and last characters:

    context:  "Tesla was born in 1856 in Smiljan."
    words:     0     1   2    3  4    5  6
    answer "1856" at answer_start 18  ->  start_position 4, end_position 4

For training, Google keeps a question only if its answer text (whitespace-normalized)
is found within the words it maps to; otherwise (odd Unicode, such as a no-break space
in the answer, which Python's `split` treats as whitespace and Google's words do not)
the question is skipped with a warning, counted in `SquadFile.skipped`.

Differences from Google's reader:
  * A training question may carry several answers (the official dev files, which this
    project also splits for training, carry three); the first one is the target.
    Google's reader raises unless there is exactly one.
  * Every answer of every question (training and evaluation alike) must sit at its
    `answer_start` and hold more than whitespace; a malformed file is refused with one
    sentence naming the file and the place in it (`data[3].paragraphs[0].qas[2]`),
    never a traceback. (Google's reader takes an empty answer as a target.)
  * With `version_2_with_negative`, `is_impossible` is read when not training too (to
    tell whether the file can be scored), and may be left out (False).
"""

import bisect
import contextlib
import dataclasses
import functools
import gc
import json
import re
from typing import Iterator, NoReturn

import numpy as np
from absl import logging

from bert_tf import file_checks
from bert_tf.errors import UserInputError

# What Google's reader counts as whitespace between words: these five characters only.
WORD_SEPARATORS = " \t\r\n\u202f"
_WORD = re.compile(f"[^{WORD_SEPARATORS}]+")
# How a file is named in messages (file_checks' `argument`).
_ARGUMENT = "SQuAD file"
_LAYOUT = ('SQuAD\'s layout is {"data": [{"paragraphs": [{"context": ..., "qas": '
           '[{"id": ..., "question": ..., "answers": [{"text": ..., "answer_start": ...}]}]}]}]}')


@dataclasses.dataclass(frozen=True)
class Answer:
    """One gold answer: its text and the character offset where it starts in the context."""

    text: str
    answer_start: int


@dataclasses.dataclass(frozen=True)
class Context:
    """One paragraph: its text and its whitespace-separated words (Google's `doc_tokens`).

    Attributes:
      text: the context as in the file.
      words: `text` split on `WORD_SEPARATORS` only.
      word_starts: the offset in `text` of each word's first character, ascending.
    """

    text: str
    words: tuple[str, ...]
    word_starts: tuple[int, ...]

    @classmethod
    def from_text(cls, text: str) -> "Context":
        """The context of `text`, split into words."""
        return cls(text, tuple(_WORD.findall(text)),
                   tuple([match.start() for match in _WORD.finditer(text)]))

    def word_at(self, char: int) -> int:
        """Google's `char_to_word_offset[char]`: the word holding character `char`, or
        for whitespace the word before it (-1 before the first word)."""
        return bisect.bisect_right(self.word_starts, char) - 1

    @functools.cached_property
    def char_to_word_offset(self) -> np.ndarray:
        """int32 [len(text)]: `word_at` of every character, as Google builds it."""
        return (np.searchsorted(np.asarray(self.word_starts, np.int64),
                                np.arange(len(self.text)), side="right") - 1).astype(np.int32)


@dataclasses.dataclass(frozen=True)
class SquadExample:
    """One question about one context.

    Attributes:
      qas_id: the question's `id` (an integer id as its decimal string).
      question_text: the question.
      context_index: its context, an index into `SquadFile.contexts`.
      answers: every gold answer in the file, in order (() when it has none).
      is_impossible: SQuAD 2.0's flag, read only with `version_2_with_negative`
        (False otherwise, and when the question leaves it out).
      start_position, end_position: the training target, the words of the first
        answer's first and last characters (-1, -1 for an impossible question, as
        Google); None when the file was not read for training.
    """

    qas_id: str
    question_text: str
    context_index: int
    answers: tuple[Answer, ...]
    is_impossible: bool
    start_position: int | None
    end_position: int | None


@dataclasses.dataclass(frozen=True)
class SquadFile:
    """A read SQuAD file.

    Attributes:
      path: where it was read from.
      contexts: every paragraph, in file order.
      examples: the questions, in file order, without the skipped ones.
      skipped: training questions left out because their answer text could not be
        recovered from the context's words (Google's rule; 0 outside training).
    """

    path: str
    contexts: list[Context]
    examples: list[SquadExample]
    skipped: int

    @property
    def has_answers(self) -> bool:
        """True when every question that is not impossible has a gold answer, so that
        predictions on the file can be scored."""
        return all(example.answers or example.is_impossible for example in self.examples)


def read_squad_file(path: str, is_training: bool,
                    version_2_with_negative: bool) -> SquadFile:
    """Reads and checks a SQuAD JSON file (local or `gs://`), as Google's
    `read_squad_examples` (see the module docstring for the two differences).

    Args:
      path: the JSON file.
      is_training: compute training targets (`start_position`, `end_position`) from
        each question's first answer, and skip questions whose answer cannot be
        recovered from the words; a question needs an answer unless it is impossible.
      version_2_with_negative: read SQuAD 2.0's `is_impossible` (default False).

    Returns:
      The contexts and questions, each context split into words once.

    Raises:
      UserInputError: naming the file (and the place in it, and the question's id) if
        it is missing, not UTF-8, not JSON, not in SQuAD's layout, holds the same id
        twice, or an answer that is not at its `answer_start`; in training, also for a
        question without answers that is not marked impossible.
    """
    import tensorflow as tf

    file_checks.check_input_file(path, _ARGUMENT)
    with tf.io.gfile.GFile(path, "rb") as reader:
        raw = reader.read()
    text = file_checks.decode_utf8(raw, path, _ARGUMENT)
    with paused_garbage_collection():
        try:
            data = json.loads(text.removeprefix("\ufeff"))
        except json.JSONDecodeError as error:
            raise UserInputError(
                f"{_ARGUMENT} {path!r} is not valid JSON: {error.msg} at line "
                f"{error.lineno}, column {error.colno}; fix the file there.") from None
        return _Reader(path, is_training, version_2_with_negative).read(data)


@contextlib.contextmanager
def paused_garbage_collection() -> Iterator[None]:
    """Pauses Python's cycle collector (as it was before, after): reading a file and
    converting it make hundreds of thousands of objects, none in a reference cycle, and
    each of them would otherwise count towards collections that scan every live object
    of the process (TensorFlow's included), which doubles the time taken. Memory is
    still freed as usual, by reference counting."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class _Reader:
    """Walks the JSON of one file, checking it and collecting contexts and examples."""

    def __init__(self, path: str, is_training: bool, version_2_with_negative: bool):
        self.path = path
        self.is_training = is_training
        self.version_2_with_negative = version_2_with_negative
        self.contexts: list[Context] = []
        self.examples: list[SquadExample] = []
        self.skipped = 0
        self.id_places: dict[str, str] = {}

    def read(self, data: object) -> SquadFile:
        if not isinstance(data, dict):
            self._fail(f"the top level is a JSON {_json_type(data)}, not an object; "
                       f"{_LAYOUT}.")
        entries = self._field(data, "data", list, "")
        for entry_index, entry in enumerate(entries):
            where = f"data[{entry_index}]"
            self._check_object(entry, where)
            for paragraph_index, paragraph in enumerate(
                    self._field(entry, "paragraphs", list, where)):
                self._read_paragraph(paragraph, f"{where}.paragraphs[{paragraph_index}]")
        return SquadFile(path=self.path, contexts=self.contexts, examples=self.examples,
                         skipped=self.skipped)

    def _read_paragraph(self, paragraph: object, where: str) -> None:
        self._check_object(paragraph, where)
        context = Context.from_text(self._field(paragraph, "context", str, where))
        questions = self._field(paragraph, "qas", list, where)
        context_index = len(self.contexts)
        self.contexts.append(context)
        for question_index, question in enumerate(questions):
            self._read_question(question, f"{where}.qas[{question_index}]", context,
                                context_index)

    def _read_question(self, question: object, where: str, context: Context,
                       context_index: int) -> None:
        self._check_object(question, where)
        qas_id = str(self._field(question, "id", (str, int), where))
        if qas_id in self.id_places:
            self._fail(f"the question id {qas_id!r} appears twice, at "
                       f"{self.id_places[qas_id]} and at {where}; give each question its "
                       "own id.")
        self.id_places[qas_id] = where
        about = f" (question id {qas_id!r})"
        question_text = self._field(question, "question", str, where, about)
        is_impossible = False
        if self.version_2_with_negative and "is_impossible" in question:
            is_impossible = self._field(question, "is_impossible", bool, where, about)
        answers = tuple(
            self._answer(answer, f"{where}.answers[{answer_index}]", about, context.text)
            for answer_index, answer in enumerate(
                self._field(question, "answers", list, where, about)
                if "answers" in question else ()))
        start_position = end_position = None
        if self.is_training:
            if is_impossible:
                start_position = end_position = -1
            elif not answers:
                hint = ("" if self.version_2_with_negative else
                        ", and pass --version_2_with_negative")
                self._fail(f"{where}{about} has no answers, which training needs; give it "
                           f'one, or if it is unanswerable mark it "is_impossible": true'
                           f"{hint}.")
            else:
                answer = answers[0]
                start_position = context.word_at(answer.answer_start)
                end_position = context.word_at(answer.answer_start + len(answer.text) - 1)
                # Google's check that the answer can be recovered from the words.
                actual_text = " ".join(context.words[start_position:end_position + 1])
                cleaned_answer_text = " ".join(answer.text.split())
                if actual_text.find(cleaned_answer_text) == -1:
                    logging.warning("%s: skipping question %s: could not find answer %r "
                                    "in the words %r.", self.path, qas_id,
                                    cleaned_answer_text, actual_text)
                    self.skipped += 1
                    return
        self.examples.append(SquadExample(
            qas_id=qas_id, question_text=question_text, context_index=context_index,
            answers=answers, is_impossible=is_impossible, start_position=start_position,
            end_position=end_position))

    def _answer(self, answer: object, where: str, about: str, context: str) -> Answer:
        self._check_object(answer, where, about)
        text = self._field(answer, "text", str, where, about)
        start = self._field(answer, "answer_start", int, where, about)
        if not text.strip():
            self._fail(f"{where}{about} has an empty answer text; give the answer's words, "
                       "or leave the answer out.")
        if not 0 <= start <= len(context) - len(text):
            self._fail(f"{where}{about} has answer_start {start}, but an answer of "
                       f"{len(text)} characters must start between 0 and "
                       f"{len(context) - len(text)} in its context of {len(context)} "
                       "characters; correct answer_start.")
        found = context[start:start + len(text)]
        if found != text:
            self._fail(f"{where}{about} has the answer {text!r} at answer_start {start}, "
                       f"but the context there reads {found!r}; correct answer_start (a "
                       "character offset from 0) or the text.")
        return Answer(text=text, answer_start=start)

    def _field(self, container: dict, key: str, types: type | tuple[type, ...],
               where: str, about: str = ""):
        """`container[key]`, which must be there and of `types` (bool is not an int);
        `where` locates the container in the file ("" for the top level), `about`
        names its question."""
        if key not in container:
            self._fail(f"{where or 'the top-level object'}{about} has no {key!r}; "
                       f"{_LAYOUT}.")
        value = container[key]
        types = types if isinstance(types, tuple) else (types,)
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            wanted = " or ".join(_TYPE_NAMES[kind] for kind in types)
            place = f"{where}.{key}" if where else key
            self._fail(f"{place}{about} is a JSON {_json_type(value)}, not {wanted}; "
                       f"{_LAYOUT}.")
        return value

    def _check_object(self, value: object, where: str, about: str = "") -> None:
        if not isinstance(value, dict):
            self._fail(f"{where}{about} is a JSON {_json_type(value)}, not an object; "
                       f"{_LAYOUT}.")

    def _fail(self, message: str) -> NoReturn:
        raise UserInputError(f"{_ARGUMENT} {self.path!r}: {message}")


_TYPE_NAMES = {dict: "an object", list: "a list", str: "a string", int: "an integer",
               bool: "true or false"}


def _json_type(value: object) -> str:
    """The JSON name of a decoded value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    return {dict: "object", list: "list", str: "string", int: "integer",
            float: "number"}.get(type(value), type(value).__name__)
