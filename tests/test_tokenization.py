"""Google's documented FullTokenizer behaviour, each with a hand-written expectation."""

import pytest

from bert_tf.text import tokenization
from tests.conftest import write_vocab


def test_full_tokenizer_matches_googles_test(google_test_vocab):
    # Google's tokenization_test.py: accents stripped, punctuation split, WordPiece.
    tokenizer = tokenization.FullTokenizer(google_test_vocab)
    tokens = tokenizer.tokenize("UNwant\u00E9d,running")
    assert tokens == ["un", "##want", "##ed", ",", "runn", "##ing"]
    assert tokenizer.convert_tokens_to_ids(tokens) == [7, 4, 5, 10, 8, 9]
    assert tokenizer.convert_ids_to_tokens([7, 4, 5]) == ["un", "##want", "##ed"]


def test_every_cjk_ideograph_is_a_token():
    tokenizer = tokenization.BasicTokenizer()
    assert tokenizer.tokenize("ah\u535A\u63A8zz") == ["ah", "\u535A", "\u63A8", "zz"]
    # Hangul and kana are not CJK ideographs in Google's sense: no split.
    cased = tokenization.BasicTokenizer(do_lower_case=False)
    assert cased.tokenize("한국어 カタカナ") == ["한국어", "カタカナ"]
    # Lower-casing applies NFD, which decomposes Hangul syllables into jamo.
    assert tokenizer.tokenize("한국어") == ["\u1112\u1161\u11ab\u1100\u116e\u11a8\u110b\u1165"]


def test_lower_casing_strips_accents():
    tokenizer = tokenization.BasicTokenizer(do_lower_case=True)
    assert tokenizer.tokenize(" \tHeLLo!how  \n Are yoU?  ") == [
        "hello", "!", "how", "are", "you", "?"]
    assert tokenizer.tokenize("H\u00E9llo") == ["hello"]
    assert tokenizer.tokenize("Ångström naïve") == ["angstrom", "naive"]


def test_no_lower_casing_keeps_case_and_accents():
    tokenizer = tokenization.BasicTokenizer(do_lower_case=False)
    assert tokenizer.tokenize(" \tHeLLo!how  \n Are yoU?  ") == [
        "HeLLo", "!", "how", "Are", "yoU", "?"]
    assert tokenizer.tokenize("H\u00E9llo") == ["H\u00E9llo"]


def test_ascii_symbols_and_unicode_punctuation_split():
    tokenizer = tokenization.BasicTokenizer()
    # "$", "^", "`", "+" are not Unicode punctuation (they are symbols) but Google
    # splits on every non-alphanumeric ASCII character.
    assert tokenizer.tokenize("a$b^c`d+e") == ["a", "$", "b", "^", "c", "`", "d", "+", "e"]
    assert tokenizer.tokenize("¿Qué?«hola»") == ["¿", "que", "?", "«", "hola", "»"]
    # A non-ASCII symbol (category So) is not punctuation: it stays inside the word.
    assert tokenizer.tokenize("a©b") == ["a©b"]


def test_control_characters_are_dropped_and_whitespace_unified():
    tokenizer = tokenization.BasicTokenizer()
    # NUL, U+FFFD, BEL (Cc) and the zero-width space (Cf) vanish, joining the pieces.
    assert tokenizer.tokenize("a\x00b\ufffdc\x07d\u200be") == ["abcde"]
    # No-break space, ideographic space, tabs, newlines and the line separator split.
    assert tokenizer.tokenize("a\u00a0b\u3000c\td\ne\u2028f") == ["a", "b", "c", "d", "e", "f"]


# Google's own tests call its private names (`_is_whitespace`, ...): both spellings.
@pytest.mark.parametrize("prefix", ["", "_"])
def test_character_classes_as_google_defines_them(prefix):
    is_whitespace = getattr(tokenization, prefix + "is_whitespace")
    is_control = getattr(tokenization, prefix + "is_control")
    is_punctuation = getattr(tokenization, prefix + "is_punctuation")
    for char in (" ", "\t", "\r", "\n", "\u00A0"):
        assert is_whitespace(char)
    for char in ("A", "-"):
        assert not is_whitespace(char)
    assert is_control("\u0005")
    for char in ("A", " ", "\t", "\r", "\U0001F4A9"):
        assert not is_control(char)
    for char in ("-", "$", "`", "."):
        assert is_punctuation(char)
    for char in ("A", " "):
        assert not is_punctuation(char)


def test_wordpiece_greedy_longest_match_and_unknown_words(tmp_path):
    vocab = tokenization.load_vocab(write_vocab(tmp_path, [
        "[UNK]", "[CLS]", "[SEP]", "want", "##want", "##ed", "wa", "un", "runn", "##ing"]))
    tokenizer = tokenization.WordpieceTokenizer(vocab=vocab)
    assert tokenizer.tokenize("") == []
    assert tokenizer.tokenize("unwanted running") == ["un", "##want", "##ed", "runn", "##ing"]
    # One uncoverable character makes the whole word [UNK], not just its last piece.
    assert tokenizer.tokenize("unwantedX running") == ["[UNK]", "runn", "##ing"]


def test_words_longer_than_200_characters_are_unknown(tmp_path):
    tokenizer = tokenization.FullTokenizer(write_vocab(tmp_path, ["[UNK]", "a", "##a"]))
    assert tokenizer.tokenize("a" * 200) == ["a"] + ["##a"] * 199
    assert tokenizer.tokenize("a" * 201) == ["[UNK]"]


@pytest.mark.parametrize("content, message", [
    ("", "is empty"),
    ("[UNK]\nhello\nworld\nhello\n", "'hello' on lines 2 and 4"),
    ("[PAD]\nhello\n", r"has no \[UNK\] token"),
    (b"[UNK]\n\xff\xfe\n", r"is not UTF-8 \(line 2\)"),
])
def test_bad_vocab_files_raise_clear_errors(tmp_path, content, message):
    path = tmp_path / "vocab.txt"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(tokenization.VocabError, match=message) as error:
        tokenization.FullTokenizer(str(path))
    assert str(path) in str(error.value)


def test_missing_vocab_file_names_the_flag(tmp_path):
    with pytest.raises(tokenization.VocabError, match="--vocab_file"):
        tokenization.load_vocab(str(tmp_path / "nope.txt"))


def test_case_check_against_googles_checkpoint_names():
    tokenization.validate_case_matches_checkpoint(True, "x/uncased_L-12_H-768_A-12/bert_model.ckpt")
    tokenization.validate_case_matches_checkpoint(False, "x/cased_L-12_H-768_A-12/bert_model.ckpt")
    tokenization.validate_case_matches_checkpoint(False, "my_own_model/model.ckpt")
    with pytest.raises(tokenization.VocabError, match="--do_lower_case=True"):
        tokenization.validate_case_matches_checkpoint(
            False, "uncased_L-12_H-768_A-12/bert_model.ckpt")
    with pytest.raises(tokenization.VocabError, match="--do_lower_case=False"):
        tokenization.validate_case_matches_checkpoint(
            True, "/models/multi_cased_L-12_H-768_A-12/bert_model.ckpt")
