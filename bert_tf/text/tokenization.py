"""WordPiece tokenization that gives the same tokens as Google's BERT `FullTokenizer`.

The Python classes here keep Google's API (`FullTokenizer`, `BasicTokenizer`,
`WordpieceTokenizer`) and its exact behaviour:

* text cleaning: NUL, U+FFFD and control characters (Unicode categories Cc and Cf,
  except tab, newline and carriage return) are dropped; every whitespace character
  becomes a space;
* every CJK ideograph becomes a token of its own;
* with `do_lower_case`, words are lower-cased, decomposed (NFD) and stripped of
  non-spacing marks (category Mn); without it, accents are kept;
* words are split on every punctuation character: Unicode category P* plus every
  non-alphanumeric ASCII character (so `$`, `^`, `` ` `` and `+` split too);
* WordPiece is greedy longest-match-first with `##` continuations; a word longer than
  200 characters, or one that cannot be covered by vocabulary pieces, is `[UNK]`.

`InGraphTokenizer` (in `bert_tf.text.graph_tokenization`) does the same inside a TensorFlow
graph with tensorflow_text, for SavedModels that take raw text.
"""

import collections
import re
import unicodedata

import tensorflow as tf

from bert_tf import file_checks
from bert_tf.errors import UserInputError

UNK_TOKEN = "[UNK]"
SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
MAX_INPUT_CHARS_PER_WORD = 200


class VocabError(UserInputError):
    """A vocabulary file is missing, empty or malformed."""


def load_vocab(vocab_file: str) -> "collections.OrderedDict[str, int]":
    """Reads a WordPiece vocabulary: one token per line, the line number is its id.

    Args:
      vocab_file: local or `gs://` path of a `vocab.txt`.

    Returns:
      An ordered mapping token -> id.

    Raises:
      VocabError: if the file is missing, a directory or empty, holds the same token
        twice or has no `[UNK]` token; the message names the file and the offending
        lines.
    """
    if not tf.io.gfile.exists(vocab_file):
        raise VocabError(
            f"Vocabulary file {vocab_file!r} does not exist. Pass --vocab_file with the "
            "vocab.txt that belongs to your checkpoint.")
    if tf.io.gfile.isdir(vocab_file):
        raise VocabError(f"Vocabulary file {vocab_file!r} is a directory. Pass --vocab_file "
                         "with the vocab.txt file in it.")
    lines = file_checks.read_text(vocab_file, lambda line: VocabError(
        f"Vocabulary file {vocab_file!r} is not UTF-8 (line {line}). "
        "Save it as UTF-8, one token per line.")).split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # The newline that ends the last token.
    vocab: "collections.OrderedDict[str, int]" = collections.OrderedDict()
    duplicates = []
    for index, line in enumerate(lines):
        token = line.strip()
        if token in vocab:
            duplicates.append(f"{token!r} on lines {vocab[token] + 1} and {index + 1}")
            continue
        vocab[token] = index
    if not vocab:
        raise VocabError(f"Vocabulary file {vocab_file!r} is empty: it needs one "
                         "WordPiece token per line, including [UNK].")
    if duplicates:
        shown = "; ".join(duplicates[:5])
        more = f" (and {len(duplicates) - 5} more)" if len(duplicates) > 5 else ""
        raise VocabError(
            f"Vocabulary file {vocab_file!r} holds the same token more than once: "
            f"{shown}{more}. Each token must appear on exactly one line, because its line "
            "number is its id.")
    if UNK_TOKEN not in vocab:
        raise VocabError(
            f"Vocabulary file {vocab_file!r} has no {UNK_TOKEN} token; WordPiece needs it "
            "for words it cannot cover. Add a line '[UNK]' (BERT vocabularies have it on "
            "line 101 or 2).")
    return vocab


def convert_to_unicode(text: str | bytes) -> str:
    """`text` as `str`; bytes are decoded as UTF-8, dropping invalid bytes (Google's)."""
    if isinstance(text, str):
        return text
    if isinstance(text, bytes):
        return text.decode("utf-8", "ignore")
    raise ValueError(f"Unsupported string type: {type(text)}")


def printable_text(text: str | bytes) -> str:
    """`text` in a form fit for printing or logging (on Python 3, as `convert_to_unicode`)."""
    return convert_to_unicode(text)


def convert_by_vocab(vocab: dict, items: list) -> list:
    """Maps each item (token or id) through `vocab`."""
    return [vocab[item] for item in items]


def convert_tokens_to_ids(vocab: dict, tokens: list[str]) -> list[int]:
    """Maps tokens to ids through `vocab` (token -> id), as Google's module function."""
    return convert_by_vocab(vocab, tokens)


def convert_ids_to_tokens(inv_vocab: dict, ids: list[int]) -> list[str]:
    """Maps ids to tokens through `inv_vocab` (id -> token), as Google's module function."""
    return convert_by_vocab(inv_vocab, ids)


def whitespace_tokenize(text: str) -> list[str]:
    """Strips `text` and splits it on any run of whitespace."""
    return text.strip().split()


class BasicTokenizer:
    """Cleans text, splits off CJK characters and punctuation, lower-cases if asked."""

    def __init__(self, do_lower_case: bool = True):
        """Creates the tokenizer.

        Args:
          do_lower_case: lower-case the text and strip accents, as for uncased models.
        """
        self.do_lower_case = do_lower_case

    def tokenize(self, text: str) -> list[str]:
        """Returns the basic (pre-WordPiece) tokens of `text` (str, or UTF-8 bytes)."""
        text = self._tokenize_chinese_chars(self._clean_text(convert_to_unicode(text)))
        split_tokens = []
        for token in whitespace_tokenize(text):
            if self.do_lower_case:
                token = _strip_accents(token.lower())
            split_tokens.extend(_split_on_punctuation(token))
        return whitespace_tokenize(" ".join(split_tokens))

    @staticmethod
    def _tokenize_chinese_chars(text: str) -> str:
        """Puts spaces around every CJK ideograph."""
        output = []
        for char in text:
            if is_chinese_char(ord(char)):
                output.extend((" ", char, " "))
            else:
                output.append(char)
        return "".join(output)

    @staticmethod
    def _clean_text(text: str) -> str:
        """Drops invalid and control characters and turns whitespace into spaces."""
        output = []
        for char in text:
            cp = ord(char)
            if cp == 0 or cp == 0xFFFD or is_control(char):
                continue
            output.append(" " if is_whitespace(char) else char)
        return "".join(output)


class WordpieceTokenizer:
    """Greedy longest-match-first WordPiece over an already basic-tokenized text."""

    def __init__(self, vocab: dict, unk_token: str = UNK_TOKEN,
                 max_input_chars_per_word: int = MAX_INPUT_CHARS_PER_WORD):
        """Creates the tokenizer.

        Args:
          vocab: mapping token -> id.
          unk_token: token for words that cannot be covered.
          max_input_chars_per_word: longer words become `unk_token` whole.
        """
        self.vocab = vocab
        self.unk_token = unk_token
        self.max_input_chars_per_word = max_input_chars_per_word

    def tokenize(self, text: str) -> list[str]:
        """Splits each whitespace-separated word of `text` into WordPieces.

        For example `"unaffable"` becomes `["un", "##aff", "##able"]`.
        """
        output_tokens = []
        for word in whitespace_tokenize(convert_to_unicode(text)):
            output_tokens.extend(self._tokenize_word(word))
        return output_tokens

    def _tokenize_word(self, word: str) -> list[str]:
        if len(word) > self.max_input_chars_per_word:
            return [self.unk_token]
        pieces = []
        start = 0
        while start < len(word):
            end = len(word)
            piece = None
            while start < end:
                candidate = word[start:end]
                if start > 0:
                    candidate = "##" + candidate
                if candidate in self.vocab:
                    piece = candidate
                    break
                end -= 1
            if piece is None:
                return [self.unk_token]
            pieces.append(piece)
            start = end
        return pieces


class FullTokenizer:
    """Basic tokenization followed by WordPiece, with Google's API."""

    def __init__(self, vocab_file: str, do_lower_case: bool = True):
        """Loads `vocab_file` (see `load_vocab`) and sets the casing."""
        self.vocab = load_vocab(vocab_file)
        self.inv_vocab = {index: token for token, index in self.vocab.items()}
        self.do_lower_case = do_lower_case
        self.basic_tokenizer = BasicTokenizer(do_lower_case=do_lower_case)
        self.wordpiece_tokenizer = WordpieceTokenizer(vocab=self.vocab)

    def tokenize(self, text: str) -> list[str]:
        """Returns the WordPiece tokens of `text`."""
        return [piece
                for token in self.basic_tokenizer.tokenize(text)
                for piece in self.wordpiece_tokenizer.tokenize(token)]

    def convert_tokens_to_ids(self, tokens: list[str]) -> list[int]:
        """Maps tokens to their vocabulary ids."""
        return convert_by_vocab(self.vocab, tokens)

    def convert_ids_to_tokens(self, ids: list[int]) -> list[str]:
        """Maps vocabulary ids back to tokens."""
        return convert_by_vocab(self.inv_vocab, ids)


def _strip_accents(text: str) -> str:
    """Decomposes `text` (NFD) and drops the non-spacing marks."""
    return "".join(char for char in unicodedata.normalize("NFD", text)
                   if unicodedata.category(char) != "Mn")


def _split_on_punctuation(text: str) -> list[str]:
    """Splits `text` so that each punctuation character is a token of its own."""
    output: list[list[str]] = []
    start_new_word = True
    for char in text:
        if is_punctuation(char):
            output.append([char])
            start_new_word = True
        else:
            if start_new_word:
                output.append([])
            start_new_word = False
            output[-1].append(char)
    return ["".join(chars) for chars in output]


# Google's definition of "CJK character": the CJK Unified Ideographs blocks and their
# extensions and compatibility blocks. Hangul, Hiragana and Katakana are not in it:
# those are written with spaces and tokenized like other scripts.
CJK_RANGES = (
    (0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F), (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F),
)

# Every ASCII character that is neither a letter nor a digit, e.g. "$", "^", "`".
ASCII_PUNCTUATION_RANGES = ((33, 47), (58, 64), (91, 96), (123, 126))


def is_chinese_char(cp: int) -> bool:
    """True for a code point in Google's CJK ideograph ranges."""
    return any(low <= cp <= high for low, high in CJK_RANGES)


def is_whitespace(char: str) -> bool:
    """True for space, tab, newline, carriage return and category Zs."""
    if char in (" ", "\t", "\n", "\r"):
        return True
    return unicodedata.category(char) == "Zs"


def is_control(char: str) -> bool:
    """True for categories Cc and Cf, except tab, newline and carriage return."""
    if char in ("\t", "\n", "\r"):
        return False
    return unicodedata.category(char) in ("Cc", "Cf")


def is_punctuation(char: str) -> bool:
    """True for Unicode punctuation (P*) and all non-alphanumeric ASCII."""
    cp = ord(char)
    if any(low <= cp <= high for low, high in ASCII_PUNCTUATION_RANGES):
        return True
    return unicodedata.category(char).startswith("P")


# Google's private names for the character classes: its own tests (and programs
# written against its module) call them.
_is_whitespace = is_whitespace
_is_control = is_control
_is_punctuation = is_punctuation


def validate_case_matches_checkpoint(do_lower_case: bool, init_checkpoint: str | None) -> None:
    """Catches the classic mistake of a cased model run lower-cased, or the reverse.

    As Google's check, it only knows the names of Google's released checkpoints
    (`uncased_L-12_H-768_A-12`, `cased_L-12_H-768_A-12`, ...); other paths pass.

    Raises:
      VocabError: if the checkpoint name and `do_lower_case` disagree.
    """
    if not init_checkpoint:
        return
    match = re.search(r"(^|/)(uncased|cased|multi_cased|multilingual)_L-\d+_H-\d+_A-\d+/",
                      init_checkpoint)
    if match is None:
        return
    model_is_lower_cased = match.group(2) in ("uncased", "multilingual")
    if model_is_lower_cased != do_lower_case:
        raise VocabError(
            f"--do_lower_case={do_lower_case} does not match the checkpoint "
            f"{init_checkpoint!r}, a {match.group(2)} model. Pass "
            f"--do_lower_case={model_is_lower_cased}.")
