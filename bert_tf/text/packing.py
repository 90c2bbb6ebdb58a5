"""Packing WordPiece tokens into BERT's `[CLS] A [SEP] B [SEP]` input layout."""

import dataclasses

from bert_tf.errors import InvalidArgumentError

CLS_TOKEN = "[CLS]"
SEP_TOKEN = "[SEP]"


@dataclasses.dataclass
class PackedInput:
    """One model input: tokens and the three int features, padded to the same length."""

    tokens: list[str]
    input_ids: list[int]
    input_mask: list[int]
    segment_ids: list[int]


def check_max_seq_length(max_seq_length: int, max_position_embeddings: int | None = None,
                         smallest: int = 3, source: str | None = None) -> None:
    """The one check of a sequence length: at least `smallest` (3 holds `[CLS] A [SEP]`
    with one piece and room for a second `[SEP]`; pre-training data needs 5) and at most
    the model's `max_position_embeddings`, when known.

    Args:
      max_seq_length: the length asked for.
      max_position_embeddings: the model's position table size, if known.
      smallest: the shortest length the caller can use.
      source: the config file the positions come from, for the message.

    Raises:
      InvalidArgumentError: naming `max_seq_length`, the bounds and their source.
    """
    if max_position_embeddings is None:
        if max_seq_length < smallest:
            raise InvalidArgumentError("max_seq_length", max_seq_length,
                                       f"must be at least {smallest}.")
        return
    if not smallest <= max_seq_length <= max_position_embeddings:
        where = f" in {source}" if source else ""
        raise InvalidArgumentError(
            "max_seq_length", max_seq_length,
            f"must be between {smallest} and the model's max_position_embeddings "
            f"({max_position_embeddings}){where}.")


def check_query_length(max_seq_length: int, max_query_length: int) -> None:
    """The rule of question-answering windows (Google's `run_squad.py`
    `validate_flags_or_throw`): a window must hold `[CLS]`, the question's
    `max_query_length` pieces, two `[SEP]` and at least one passage piece.

    Raises:
      InvalidArgumentError: naming `max_query_length` if it is below 1, or
        `max_seq_length` unless it is more than `max_query_length + 3`.
    """
    if max_query_length < 1:
        raise InvalidArgumentError("max_query_length", max_query_length,
                                   "must be at least 1.")
    if max_seq_length <= max_query_length + 3:
        raise InvalidArgumentError(
            "max_seq_length", max_seq_length,
            f"must be more than max_query_length + 3 = {max_query_length + 3}, to hold "
            "[CLS], the question, two [SEP] and at least one passage piece.")


def truncate_seq_pair(tokens_a: list[str], tokens_b: list[str], max_length: int) -> None:
    """Shortens the pair in place until it fits `max_length`, one token at a time from
    the end of the longer sequence (Google's rule: a short sentence keeps all its
    tokens, a long one loses the most)."""
    while len(tokens_a) + len(tokens_b) > max_length:
        if len(tokens_a) > len(tokens_b):
            tokens_a.pop()
        else:
            tokens_b.pop()


def pack(tokens_a: list[str], tokens_b: list[str] | None, max_seq_length: int,
         convert_tokens_to_ids) -> PackedInput:
    """Builds the model input for one example, as Google's `convert_single_example`.

        tokens:      [CLS] is this jack ##son ##ville ? [SEP] no it is not . [SEP]
        segment_ids:   0    0   0    0    0     0    0    0    1  1  1  1  1    1

    A single sequence is `[CLS] A [SEP]` with segment id 0 throughout. Sequences are
    truncated to fit (see `truncate_seq_pair`), then padded with id 0 and mask 0.

    Args:
      tokens_a: WordPiece tokens of the first text (not modified).
      tokens_b: WordPiece tokens of the second text, or None.
      max_seq_length: the padded length.
      convert_tokens_to_ids: the tokenizer's token -> id function.
    """
    tokens_a = list(tokens_a)
    if tokens_b is not None:
        tokens_b = list(tokens_b)
        truncate_seq_pair(tokens_a, tokens_b, max_seq_length - 3)
    else:
        tokens_a = tokens_a[:max_seq_length - 2]
    tokens = [CLS_TOKEN, *tokens_a, SEP_TOKEN]
    segment_ids = [0] * len(tokens)
    if tokens_b is not None:
        tokens += [*tokens_b, SEP_TOKEN]
        segment_ids += [1] * (len(tokens_b) + 1)
    input_ids = convert_tokens_to_ids(tokens)
    padding = max_seq_length - len(input_ids)
    return PackedInput(tokens=tokens, input_ids=input_ids + [0] * padding,
                       input_mask=[1] * len(input_ids) + [0] * padding,
                       segment_ids=segment_ids + [0] * padding)
