"""The CoNLL reader: documents, sentences, tag schemes, malformed lines, splits."""

import re

import pytest

from bert_tf.tasks.ner import conll
from bert_tf.errors import UserInputError

# CoNLL-2003 as shipped: four columns, IOB1 ("I-" starts entities, "B-" only where two
# entities of one type touch), -DOCSTART- lines.
IOB1_FILE = """\
-DOCSTART- -X- -X- O

EU NNP B-NP I-ORG
rejects VBZ B-VP O
German JJ B-NP I-MISC
call NN I-NP O
. . O O

Peter NNP B-NP I-PER
Blackburn NNP I-NP I-PER

-DOCSTART- -X- -X- O

Paris NNP B-NP I-LOC
Berlin NNP I-NP B-LOC
and CC O O
Rome NNP B-NP I-LOC
Milan NNP I-NP B-LOC
Bay NNP I-NP I-LOC
"""

# The same sentences, as (words, IOB2 tags) per document.
EXPECTED = [
    [(["EU", "rejects", "German", "call", "."], ["B-ORG", "O", "B-MISC", "O", "O"]),
     (["Peter", "Blackburn"], ["B-PER", "I-PER"])],
    [(["Paris", "Berlin", "and", "Rome", "Milan", "Bay"],
      ["B-LOC", "B-LOC", "O", "B-LOC", "B-LOC", "I-LOC"])],
]
EXPECTED_LINES = [[3, 9], [14]]

# The last document's tags in every scheme, written by hand.
LAST_SENTENCE_TAGS = {
    "iob1": ["I-LOC", "B-LOC", "O", "I-LOC", "B-LOC", "I-LOC"],
    "iob2": ["B-LOC", "B-LOC", "O", "B-LOC", "B-LOC", "I-LOC"],
    "iobes": ["S-LOC", "S-LOC", "O", "S-LOC", "B-LOC", "E-LOC"],
    "bilou": ["U-LOC", "U-LOC", "O", "U-LOC", "B-LOC", "L-LOC"],
}
FIRST_SENTENCES_TAGS = {
    "iob2": [["B-ORG", "O", "B-MISC", "O", "O"], ["B-PER", "I-PER"]],
    "iobes": [["S-ORG", "O", "S-MISC", "O", "O"], ["B-PER", "E-PER"]],
    "bilou": [["U-ORG", "O", "U-MISC", "O", "O"], ["B-PER", "L-PER"]],
}


def write(tmp_path, text: str, name: str = "data.txt") -> str:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return str(path)


def file_in_scheme(scheme: str) -> str:
    """IOB1_FILE with its entity tags rewritten in `scheme` (two columns, tabs)."""
    lines = ["-DOCSTART-\tO", ""]
    words = [[("EU rejects German call .").split(), ["Peter", "Blackburn"]],
             [["Paris", "Berlin", "and", "Rome", "Milan", "Bay"]]]
    tags = [FIRST_SENTENCES_TAGS[scheme], [LAST_SENTENCE_TAGS[scheme]]]
    for doc_index, (doc_words, doc_tags) in enumerate(zip(words, tags)):
        if doc_index:
            lines += ["-DOCSTART-\tO", ""]
        for sentence_words, sentence_tags in zip(doc_words, doc_tags):
            lines += [f"{w}\t{t}" for w, t in zip(sentence_words, sentence_tags)] + [""]
    return "\n".join(lines)


def as_tuples(conll_file: conll.ConllFile):
    return [[(s.words, s.tags) for s in document] for document in conll_file.documents]


def test_reads_conll2003_iob1_into_documents_of_iob2_sentences(tmp_path):
    path = write(tmp_path, IOB1_FILE)
    data = conll.read_conll(path)
    assert data.scheme == "iob1"
    assert as_tuples(data) == EXPECTED
    assert [[s.line for s in d] for d in data.documents] == EXPECTED_LINES
    assert all(s.path == path for s in data.sentences)
    assert len(data.sentences) == 3
    assert as_tuples(conll.read_conll(path, scheme="iob1")) == EXPECTED


@pytest.mark.parametrize("scheme", ["iob2", "iobes", "bilou"])
def test_every_scheme_is_detected_and_read_as_iob2(tmp_path, scheme):
    path = write(tmp_path, file_in_scheme(scheme))
    detected = conll.read_conll(path)
    assert detected.scheme == scheme
    assert as_tuples(detected) == EXPECTED
    assert as_tuples(conll.read_conll(path, scheme=scheme)) == EXPECTED


def test_crlf_bom_tabs_and_no_docstart(tmp_path):
    text = "\ufeffNew\tNNP\tB-LOC\r\nYork  NNP   I-LOC\r\n\r\n\r\nhi O\r\n"
    data = conll.read_conll(write(tmp_path, text))
    assert len(data.documents) == 1
    assert [(s.words, s.tags, s.line) for s in data.sentences] == [
        (["New", "York"], ["B-LOC", "I-LOC"], 1), (["hi"], ["O"], 5)]


@pytest.mark.parametrize("scheme", ["iob1", "iob2", "iobes", "bilou"])
def test_conversion_back_gives_the_scheme_as_written(scheme):
    iob2 = LAST_SENTENCE_TAGS["iob2"]
    assert conll.from_iob2(iob2, scheme) == LAST_SENTENCE_TAGS[scheme]
    assert conll.to_iob2(LAST_SENTENCE_TAGS[scheme]) == iob2
    assert conll.from_iob2(LAST_SENTENCE_TAGS[scheme], scheme) == LAST_SENTENCE_TAGS[scheme]


def test_to_iob2_is_lenient_with_invalid_model_output():
    # An I-/E- that continues nothing starts an entity; E- and S- end one.
    assert conll.to_iob2(["O", "I-PER", "E-LOC", "I-LOC", "S-LOC", "E-LOC", "B-LOC",
                          "I-LOC", "E-LOC"]) == [
        "O", "B-PER", "B-LOC", "B-LOC", "B-LOC", "B-LOC", "B-LOC", "I-LOC", "I-LOC"]
    with pytest.raises(ValueError, match="PER"):
        conll.to_iob2(["PER"])


def test_detect_scheme():
    assert conll.detect_scheme([["B-X", "I-X"], ["O", "B-Y"]]) == "iob2"
    assert conll.detect_scheme([["B-X", "I-X"], ["B-X", "I-Y"]]) == "iob1"
    assert conll.detect_scheme([["O"]]) == "iob2"
    with pytest.raises(ValueError, match="mix"):
        conll.detect_scheme([["S-X"], ["U-X"]])


MALFORMED = [
    # (file text, scheme, line of the error, words the message must contain)
    ("a O\nb\n", "auto", 2, "only one column"),
    ("a O\n\nb PER\n", "auto", 3, "'PER'"),
    ("a B_PER\n", "auto", 1, "'B_PER'"),
    ("a B-\n", "auto", 1, "'B-'"),
    ("a Q-PER\n", "auto", 1, "'Q-PER'"),
    ("a O\nb S-PER\n", "iob2", 2, "'S-PER'"),
    ("a O\nb L-PER\n", "iobes", 2, "'L-PER'"),
    ("a O\nb I-PER\n", "iob2", 2, "iob1"),
    ("a B-LOC\nb I-PER\n", "iob2", 2, "'I-PER'"),
    ("a O\nb I-PER\nc E-PER\n", "iobes", 2, "'I-PER'"),
    ("a S-PER\nb E-PER\n", "auto", 2, "'E-PER'"),
    ("x O\n\na B-PER\nb O\n", "auto-iobes", 3, "E-PER"),
    ("x S-LOC\n\na O\nb B-PER\n", "auto", 4, "end of the sentence"),
    ("a B-PER\nb I-PER\nc S-PER\n", "iobes", 2, "E-PER"),
    ("a B-PER\nb L-LOC\n", "bilou", 2, "'L-LOC'"),
    ("a B-PER\nb O\n", "bilou", 1, "L-PER"),
    ("a S-X\nb U-X\n", "auto", None, "mix"),
]


@pytest.mark.parametrize("text, scheme, line, words", MALFORMED)
def test_malformed_lines_name_file_line_and_fix(tmp_path, text, scheme, line, words):
    if scheme == "auto-iobes":  # Detected as IOBES by an S- elsewhere in the file.
        text, scheme = text + "\nz S-X\n", "auto"
    path = write(tmp_path, text)
    with pytest.raises(UserInputError) as error:
        conll.read_conll(path, scheme=scheme)
    message = str(error.value)
    assert repr(path) in message
    if line is not None:
        assert f"line {line}:" in message
    assert words in message


def test_missing_empty_and_non_utf8_files(tmp_path):
    with pytest.raises(UserInputError, match="does not exist"):
        conll.read_conll(str(tmp_path / "nope.txt"))
    with pytest.raises(UserInputError, match="no sentence"):
        conll.read_conll(write(tmp_path, "-DOCSTART- O\n\n\n"))
    path = tmp_path / "latin1.txt"
    path.write_bytes("a O\nb\xe9 O\n".encode("latin-1"))
    with pytest.raises(UserInputError, match="line 2: not UTF-8"):
        conll.read_conll(str(path))
    with pytest.raises(UserInputError, match="Unknown tag scheme"):
        conll.read_conll(str(path), scheme="bio")


def test_label_list_is_sorted_with_o_first_and_both_prefixes():
    sentences = [conll.Sentence(["a", "b", "c"], ["B-PER", "O", "B-LOC"]),
                 conll.Sentence(["d", "e"], ["B-MISC", "I-MISC"])]
    assert conll.label_list(sentences) == [
        "O", "B-LOC", "B-MISC", "B-PER", "I-LOC", "I-MISC", "I-PER"]


def test_split_files_and_missing_split(tmp_path):
    write(tmp_path, "a O\n", "train.txt")
    write(tmp_path, "b O\n", "valid.txt")
    assert conll.split_path(str(tmp_path), "train") == str(tmp_path / "train.txt")
    assert conll.split_path(str(tmp_path), "dev") == str(tmp_path / "valid.txt")
    write(tmp_path, "c O\n", "dev.txt")
    dev = conll.read_split(str(tmp_path), "dev")
    assert dev.sentences[0].words == ["c"]
    with pytest.raises(UserInputError) as error:
        conll.split_path(str(tmp_path), "test")
    for name in ("test.txt", "eng.testb"):
        assert re.search(re.escape(repr(str(tmp_path / name))), str(error.value))
