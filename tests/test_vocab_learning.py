"""The vocabulary builder: tensorflow_text's learner over Google-tokenized words."""

import subprocess
import sys

import pytest
import tensorflow as tf

from bert_tf import file_checks

from bert_tf.text import tokenization

from bert_tf.text import vocab_learning
from bert_tf.errors import UserInputError
from bert_tf.text.graph_tokenization import InGraphTokenizer
from tests.conftest import REPO_ROOT
from tests.test_pretraining_instances import _stdlib_corpus_lines


def test_words_are_counted_as_googles_basic_tokenizer_splits_them():
    lines = ["Hello, héllo HELLO!", "naïve $x"]
    counts = vocab_learning.count_words(lines, do_lower_case=True)
    basic = tokenization.BasicTokenizer(do_lower_case=True)
    expected = {}
    for line in lines:
        for word in basic.tokenize(line):
            expected[word] = expected.get(word, 0) + 1
    assert dict(counts) == expected == {"hello": 3, ",": 1, "!": 1, "naive": 1, "$": 1, "x": 1}


def test_built_vocab_loads_in_both_tokenizers_and_covers_the_corpus(tmp_path):
    corpus = tmp_path / "corpus.txt"
    lines = [line.decode() for line in _stdlib_corpus_lines()]
    corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
    output = tmp_path / "vocab.txt"
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "build_vocab.py"), f"--input_file={corpus}",
         f"--output_file={output}", "--vocab_size=2000", "--num_unused=3"],
        cwd=REPO_ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    tokens = output.read_text(encoding="utf-8").splitlines()
    assert tokens[:8] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
                          "[unused0]", "[unused1]", "[unused2]"]
    assert 1800 <= len(tokens) <= 2200 and len(set(tokens)) == len(tokens)
    assert any(token.startswith("##") for token in tokens)

    python = tokenization.FullTokenizer(str(output), do_lower_case=True)
    graph = InGraphTokenizer(str(output), do_lower_case=True)
    sample = [line for line in lines if line][:500]
    ids = [python.convert_tokens_to_ids(python.tokenize(line)) for line in sample]
    assert graph.tokenize(tf.constant(sample)).to_list() == ids
    flat = [i for row in ids for i in row]
    assert flat.count(python.vocab["[UNK]"]) / len(flat) < 0.01
    # A learned vocabulary needs fewer pieces per word than characters.
    words = sum(len(tokenization.BasicTokenizer().tokenize(line)) for line in sample)
    assert len(flat) / words < 2.0


@pytest.mark.parametrize("case", ["UTF-16 input", "output folder under a file"])
def test_bad_input_or_output_is_one_line_before_any_work(tmp_path, case):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("The baker opens at five.\n", encoding="utf-8")
    output = tmp_path / "vocab.txt"
    if case == "UTF-16 input":
        corpus.write_text("The baker opens at five.\n", encoding="utf-16")
        expected = (f"error: --input_file '{corpus}' is not UTF-8 text: byte 0 (0xff) starts "
                    "a UTF-16 byte-order mark; convert it to UTF-8 (e.g. iconv -f UTF-16 -t "
                    "UTF-8) or leave out binary files.")
    else:
        # Tests run as root, which writes through chmod: a folder under a file is what
        # no one can write.
        (tmp_path / "file").write_text("")
        output = tmp_path / "file" / "sub" / "vocab.txt"
        expected = (f"error: --output_file: cannot write to '{output.parent}' "
                    f"({tmp_path / 'file'} is not a directory); choose a folder you can "
                    "write to.")
    before = sorted(path.name for path in tmp_path.iterdir())
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "build_vocab.py"), f"--input_file={corpus}",
         f"--output_file={output}", "--vocab_size=100"],
        cwd=REPO_ROOT, capture_output=True, text=True)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr[-3000:]
    assert [line for line in result.stderr.splitlines() if line.startswith("error:")] == [
        expected]
    assert sorted(path.name for path in tmp_path.iterdir()) == before


def test_bad_byte_later_in_the_corpus_names_file_and_byte(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_bytes(b"fine text\n" * 10 + b"caf\xe9\n")
    lines = file_checks.read_utf8_files([str(corpus)], "--input_file")
    with pytest.raises(UserInputError, match=f"--input_file '{corpus}' is not UTF-8 text: "
                                             r"byte 103 \(0xe9\)"):
        vocab_learning.count_words(lines, do_lower_case=True)
