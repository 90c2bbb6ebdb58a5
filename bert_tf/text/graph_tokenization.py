"""In-graph WordPiece tokenization with the same ids as Google's `FullTokenizer`.

tensorflow_text's own BERT normalization differs from Google's on real text: its
lower-casing is NFKC case folding, so e.g. "½", "²" or "″" change where Google keeps
them. So the graph here does Google's steps itself, and takes every character class
(control, whitespace, punctuation, non-spacing mark) from Python's `unicodedata`, the
same tables Google's Python tokenizer reads:

1. drop NUL, U+FFFD and control characters; turn whitespace into spaces;
2. with lower-casing: `tf.strings.lower` (full Unicode case mapping, with Greek final
   sigma), corrected for the few letters whose lower case TensorFlow's tables lack,
   then NFD, then drop non-spacing marks;
3. split on spaces, and split off punctuation and CJK ideographs as tokens of their own;
4. words longer than 200 characters become `[UNK]`; the others go through
   tensorflow_text's `FastWordpieceTokenizer` (greedy longest-match-first).

Steps 1 to 3 are `BasicGraphTokenizer` (Google's `BasicTokenizer`); `InGraphTokenizer`
adds step 4 (Google's `FullTokenizer`).
"""

import sys
import unicodedata
from typing import Iterable

import tensorflow as tf
import tensorflow_text as tf_text

from bert_tf.text import tokenization

# Every word the graph hands to WordPiece is at most 200 characters, so at most 800
# bytes of UTF-8; FastWordpiece must never apply its own (byte-based) limit first.
_MAX_BYTES_PER_WORD = 4 * tokenization.MAX_INPUT_CHARS_PER_WORD + 4


def _ranges(code_points: Iterable[int]) -> list[tuple[int, int]]:
    """Sorted code points as inclusive ranges."""
    ranges: list[tuple[int, int]] = []
    for cp in code_points:
        if ranges and ranges[-1][1] == cp - 1:
            ranges[-1] = (ranges[-1][0], cp)
        else:
            ranges.append((cp, cp))
    return ranges


def _regex_class(ranges: Iterable[tuple[int, int]], negate: bool = False) -> str:
    """An RE2 character class matching exactly the given code point ranges."""
    parts = []
    for low, high in ranges:
        parts.append(f"\\x{{{low:X}}}" if low == high else f"\\x{{{low:X}}}-\\x{{{high:X}}}")
    return ("[^" if negate else "[") + "".join(parts) + "]"


def _maybe_assigned_code_points() -> Iterable[int]:
    """All code points except planes 4 to 13, which no Unicode version has used yet
    (skipping them halves start-up; a test checks every code point)."""
    yield from range(0x40000)
    yield from range(0xE0000, sys.maxunicode + 1)


class _CharacterClasses:
    """RE2 character classes built once per process from Python's Unicode tables."""

    _cached: "_CharacterClasses | None" = None

    def __init__(self):
        removed, separator, nonspacing_mark, punctuation = [], [], [], []
        for cp in _maybe_assigned_code_points():
            char = chr(cp)
            # Unassigned code points and surrogates fall in none of the classes.
            if unicodedata.category(char) in ("Cn", "Cs"):
                continue
            if cp in (0, 0xFFFD) or tokenization.is_control(char):
                removed.append(cp)
            # Google turns whitespace into spaces, then splits with `str.split()`, which
            # also splits on U+2028 and U+2029. A plain space needs no rewriting.
            elif (tokenization.is_whitespace(char) or char.isspace()) and char != " ":
                separator.append(cp)
            if unicodedata.category(char) == "Mn":
                nonspacing_mark.append(cp)
            if tokenization.is_punctuation(char):
                punctuation.append(cp)
        self.removed = _regex_class(_ranges(removed))
        self.separator = _regex_class(_ranges(separator))
        self.nonspacing_mark = _regex_class(_ranges(nonspacing_mark))
        # Google's CJK ranges are whole blocks, unassigned code points included.
        self.isolated = _regex_class(_ranges(punctuation) + list(tokenization.CJK_RANGES))
        self.lowercase_fixes = _lowercase_fixes()
        self.needs_lowercase_fix = _regex_class(_ranges(sorted(self.lowercase_fixes)))

    @classmethod
    def get(cls) -> "_CharacterClasses":
        """The shared instance (building the tables takes a few seconds)."""
        if cls._cached is None:
            cls._cached = cls()
        return cls._cached


def _lowercase_fixes() -> dict[int, int]:
    """Letters that Python lower-cases but `tf.strings.lower` leaves as they are.

    TensorFlow's case tables are older than Python's for a few recently encoded
    scripts; those letters are mapped explicitly.
    """
    cased = [chr(cp) for cp in _maybe_assigned_code_points()
             if not 0xD800 <= cp <= 0xDFFF and chr(cp).lower() != chr(cp)]
    lowered = tf.strings.lower(tf.constant([c.encode("utf-8") for c in cased]),
                               encoding="utf-8").numpy()
    fixes = {}
    for char, tf_lower in zip(cased, lowered):
        python_lower = char.lower()
        if tf_lower.decode("utf-8") == char and len(python_lower) == 1:
            fixes[ord(char)] = ord(python_lower)
    return fixes


class BasicGraphTokenizer(tf.Module):
    """Google's `BasicTokenizer` in a TensorFlow graph: cleaning, optional
    lower-casing with accent stripping, and splitting into words."""

    def __init__(self, do_lower_case: bool = True, name: str | None = None):
        """Builds the normalizer.

        Args:
          do_lower_case: lower-case and strip accents, as for uncased models.
          name: module name.
        """
        super().__init__(name=name)
        self.do_lower_case = do_lower_case
        self._classes = _CharacterClasses.get()
        fixes = self._classes.lowercase_fixes
        self._lowercase_fix_table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(list(fixes) or [-1], tf.int32),
                tf.constant(list(fixes.values()) or [-1], tf.int32)),
            default_value=-1)

    def normalize(self, text: tf.Tensor) -> tf.Tensor:
        """Google's text cleaning (and lower-casing with accent stripping if asked).

        Args:
          text: string tensor of any shape.

        Returns:
          A string tensor of the same shape.
        """
        classes = self._classes
        text = tf.strings.regex_replace(text, classes.removed, "")
        text = tf.strings.regex_replace(text, classes.separator, " ")
        if self.do_lower_case:
            text = tf.strings.lower(text, encoding="utf-8")
            text = self._fix_lowercase(text)
            text = tf_text.normalize_utf8(text, "NFD")
            text = tf.strings.regex_replace(text, classes.nonspacing_mark, "")
        return text

    def _fix_lowercase(self, text: tf.Tensor) -> tf.Tensor:
        if not self._classes.lowercase_fixes:
            return text

        def fix() -> tf.Tensor:
            code_points = tf.strings.unicode_decode(text, "UTF-8")
            fixed = self._lowercase_fix_table.lookup(code_points.flat_values)
            code_points = code_points.with_flat_values(
                tf.where(fixed >= 0, fixed, code_points.flat_values))
            return tf.strings.unicode_encode(code_points, "UTF-8")

        # Decoding to code points is slow, and the letters concerned are rare.
        needs_fix = tf.strings.regex_full_match(
            text, f"(?s).*{self._classes.needs_lowercase_fix}.*")
        return tf.cond(tf.reduce_any(needs_fix), fix, lambda: text)

    def split_words(self, text: tf.Tensor) -> tf.RaggedTensor:
        """Normalizes `text` [batch] and splits it into words [batch, (words)], as
        Google's `BasicTokenizer.tokenize`: punctuation characters and CJK ideographs
        are words of their own."""
        text = tf.strings.regex_replace(self.normalize(text), self._classes.isolated, r" \0 ")
        return tf.strings.split(text)


class InGraphTokenizer(tf.Module):
    """Raw UTF-8 strings to WordPiece ids inside a TensorFlow graph.

    Gives the same ids as `FullTokenizer(vocab_file, do_lower_case)`; usable in
    `tf.data` pipelines and in SavedModel signatures (it needs tensorflow_text's ops
    at serving time).
    """

    def __init__(self, vocab_file: str, do_lower_case: bool = True, name: str | None = None):
        """Builds the tokenizer.

        Args:
          vocab_file: path of the WordPiece `vocab.txt` (validated as by `load_vocab`).
          do_lower_case: lower-case and strip accents, as for uncased models.
          name: module name.
        """
        super().__init__(name=name)
        vocab = tokenization.load_vocab(vocab_file)
        # Keep the line numbering: an id is the token's line in the file.
        tokens = [""] * (max(vocab.values()) + 1)
        for token, index in vocab.items():
            tokens[index] = token
        self.do_lower_case = do_lower_case
        self.vocab_size = len(tokens)
        self.unk_id = vocab[tokenization.UNK_TOKEN]
        self.basic = BasicGraphTokenizer(do_lower_case)
        self._wordpiece = tf_text.FastWordpieceTokenizer(
            vocab=tokens, suffix_indicator="##", max_bytes_per_word=_MAX_BYTES_PER_WORD,
            token_out_type=tf.int32, unknown_token=tokenization.UNK_TOKEN,
            no_pretokenization=True, support_detokenization=False)

    def split_words(self, text: tf.Tensor) -> tf.RaggedTensor:
        """The words [batch, (words)] WordPiece sees (see `BasicGraphTokenizer`)."""
        return self.basic.split_words(text)

    def tokenize(self, text: tf.Tensor) -> tf.RaggedTensor:
        """WordPiece ids of each string.

        Args:
          text: string tensor [batch] of raw UTF-8 text.

        Returns:
          int32 RaggedTensor [batch, (tokens)].
        """
        words = self.split_words(text)
        flat_words = words.flat_values
        too_long = tf.strings.length(flat_words, unit="UTF8_CHAR") > (
            tokenization.MAX_INPUT_CHARS_PER_WORD)
        # The vocab token "[UNK]" itself is a word WordPiece maps to exactly [UNK].
        flat_words = tf.where(too_long, tokenization.UNK_TOKEN, flat_words)
        pieces = self._wordpiece.tokenize(flat_words)  # [words, (pieces)]
        return words.with_flat_values(pieces).merge_dims(1, 2)
