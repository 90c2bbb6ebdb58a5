"""Packing tokens into `[CLS] A [SEP] B [SEP]` with Google's truncation rule."""

from bert_tf.text import packing as encoding


def test_truncation_pops_from_the_longer_sequence():
    a, b = list("abcdefgh"), list("xyz")
    encoding.truncate_seq_pair(a, b, 7)
    assert (a, b) == (list("abcd"), list("xyz"))
    a, b = list("abcde"), list("vwxyz")
    encoding.truncate_seq_pair(a, b, 5)
    assert (a, b) == (list("abc"), list("vw"))  # Ties pop from B first.


def test_pair_layout_and_padding():
    ids = {"[CLS]": 1, "[SEP]": 2, "a": 3, "b": 4, "c": 5}
    packed = encoding.pack(["a", "b"], ["c"], 8, lambda tokens: [ids[t] for t in tokens])
    assert packed.tokens == ["[CLS]", "a", "b", "[SEP]", "c", "[SEP]"]
    assert packed.input_ids == [1, 3, 4, 2, 5, 2, 0, 0]
    assert packed.input_mask == [1, 1, 1, 1, 1, 1, 0, 0]
    assert packed.segment_ids == [0, 0, 0, 0, 1, 1, 0, 0]


def test_single_sequence_is_cut_to_leave_room_for_cls_and_sep():
    packed = encoding.pack(list("abcdef"), None, 5, lambda tokens: [0] * len(tokens))
    assert packed.tokens == ["[CLS]", "a", "b", "c", "[SEP]"]
    assert packed.input_mask == [1] * 5
