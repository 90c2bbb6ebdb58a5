"""A program written against Google's `tokenization.py` runs unchanged on ours.

Each test calls the module the way Google's own `tokenization_test.py` does (its
module-level functions, bytes input) and checks the values Google's tests expect; its
private character-class helpers are checked in test_tokenization.py.
"""

import tempfile

from bert_tf import tokenization  # Google's module name, as its programs import it.
from tests.conftest import GOOGLE_TEST_VOCAB


def _vocab() -> dict[str, int]:
    return {token: index for index, token in enumerate(GOOGLE_TEST_VOCAB)}


def test_full_tokenizer_from_a_vocab_written_as_bytes():
    # Google's test writes the vocabulary as UTF-8 bytes to a temporary file.
    with tempfile.NamedTemporaryFile(delete=False) as writer:
        writer.write("".join(token + "\n" for token in GOOGLE_TEST_VOCAB).encode("utf-8"))
    tokenizer = tokenization.FullTokenizer(writer.name)
    tokens = tokenizer.tokenize("UNwant\u00E9d,running")
    assert tokens == ["un", "##want", "##ed", ",", "runn", "##ing"]
    assert tokenizer.convert_tokens_to_ids(tokens) == [7, 4, 5, 10, 8, 9]


def test_module_level_id_conversion():
    vocab = _vocab()
    inv_vocab = {index: token for token, index in vocab.items()}
    tokens = ["un", "##want", "##ed", "runn", "##ing"]
    assert tokenization.convert_tokens_to_ids(vocab, tokens) == [7, 4, 5, 8, 9]
    assert tokenization.convert_ids_to_tokens(inv_vocab, [7, 4, 5, 8, 9]) == tokens


def test_unicode_helpers_decode_bytes_and_reject_other_types():
    assert tokenization.convert_to_unicode(b"caf\xc3\xa9") == "caf\u00e9"
    assert tokenization.convert_to_unicode(b"a\xffb") == "ab"  # Invalid bytes dropped.
    assert tokenization.convert_to_unicode("x") == "x"
    assert tokenization.printable_text(b"\xe2\x82\xac") == "\u20ac"
    for function in (tokenization.convert_to_unicode, tokenization.printable_text):
        try:
            function(3)
        except ValueError as error:
            assert "Unsupported string type" in str(error)
        else:
            raise AssertionError(f"{function.__name__}(3) did not raise")


def test_basic_and_wordpiece_tokenizers_take_bytes():
    assert tokenization.BasicTokenizer().tokenize("ah\u535A\u63A8zz".encode("utf-8")) == \
        ["ah", "\u535A", "\u63A8", "zz"]
    wordpiece = tokenization.WordpieceTokenizer(vocab=_vocab())
    assert wordpiece.tokenize("") == []
    assert wordpiece.tokenize(b"unwanted running") == ["un", "##want", "##ed", "runn", "##ing"]
    assert wordpiece.tokenize("unwantedX running") == ["[UNK]", "runn", "##ing"]
