"""Entity-level precision, recall and F1 for tagging, counted as CoNLL's `conlleval`.

An entity (chunk) is a type and a span of words; a predicted entity is correct only if
a gold entity has exactly the same span and type. Precision is correct / predicted,
recall correct / gold, F1 their harmonic mean, overall (micro) and per type; token
accuracy is the share of words whose predicted tag equals the gold tag as written.

Tags of any scheme (IOB1, IOB2, IOBES, BILOU) are first put in IOB2 with
`bert_tf.tasks.ner.conll.to_iob2`, whose chunk boundaries are conlleval's for IOB input and
seqeval's (default mode) for IOBES; the two agree on IOB1/IOB2 input. (conlleval itself
mishandles IOBES: it reads `E-X B-X` as one entity.) Sentences are scored separately:
no entity crosses a sentence boundary.
"""

from collections.abc import Sequence

from bert_tf.tasks.ner.conll import OUTSIDE, split_tag, to_iob2

Chunk = tuple[str, int, int]  # (type, first word, one past the last word)


def get_chunks(tags: Sequence[str]) -> list[Chunk]:
    """The entities in one sentence's tags (any scheme) as `(type, start, end)`, end
    exclusive, in order."""
    chunks = []
    start, current_type = None, ""
    for index, tag in enumerate([*to_iob2(tags), OUTSIDE]):
        prefix, entity_type = split_tag(tag)
        if start is not None and prefix != "I":
            chunks.append((current_type, start, index))
            start = None
        if prefix == "B":
            start, current_type = index, entity_type
    return chunks


def evaluate(gold_sequences: Sequence[Sequence[str]],
             predicted_sequences: Sequence[Sequence[str]]) -> dict:
    """Scores predicted tags against gold tags, one sequence per sentence.

    Args:
      gold_sequences: the gold tags of each sentence (strings such as "B-PER", "O").
      predicted_sequences: the predicted tags, the same number per sentence.

    Returns:
      A dict with "precision", "recall", "f1", "accuracy" (fractions in [0, 1]),
      "num_tokens", "num_gold", "num_predicted", "num_correct" (entity counts), and
      "per_type": type -> {"precision", "recall", "f1", "num_gold", "num_predicted",
      "num_correct"} for every type in gold or predicted tags. A ratio whose
      denominator is 0 is 0, as in conlleval.

    Raises:
      ValueError: if the inputs differ in the number of sentences or of tags in a
        sentence, or hold a tag that is not `O` or `X-TYPE`.
    """
    if len(gold_sequences) != len(predicted_sequences):
        raise ValueError(f"{len(gold_sequences)} gold sentences but "
                         f"{len(predicted_sequences)} predicted ones")
    num_tokens = correct_tokens = 0
    gold_counts: dict[str, int] = {}
    predicted_counts: dict[str, int] = {}
    correct_counts: dict[str, int] = {}
    for index, (gold, predicted) in enumerate(zip(gold_sequences, predicted_sequences)):
        if len(gold) != len(predicted):
            raise ValueError(f"sentence {index}: {len(gold)} gold tags but "
                             f"{len(predicted)} predicted ones")
        num_tokens += len(gold)
        correct_tokens += sum(g == p for g, p in zip(gold, predicted))
        gold_chunks = get_chunks(gold)
        predicted_chunks = get_chunks(predicted)
        _count_types(gold_chunks, gold_counts)
        _count_types(predicted_chunks, predicted_counts)
        _count_types(sorted(set(gold_chunks) & set(predicted_chunks)), correct_counts)
    types = sorted(set(gold_counts) | set(predicted_counts))
    per_type = {t: _scores(correct_counts.get(t, 0), gold_counts.get(t, 0),
                           predicted_counts.get(t, 0)) for t in types}
    overall = _scores(sum(correct_counts.values()), sum(gold_counts.values()),
                      sum(predicted_counts.values()))
    return {**overall, "accuracy": correct_tokens / num_tokens if num_tokens else 0.0,
            "num_tokens": num_tokens, "per_type": per_type}


def format_report(result: dict) -> str:
    """`evaluate`'s result as conlleval prints it, e.g.

        processed 51362 tokens with 5942 phrases; found: 5952 phrases; correct: 5441.
        accuracy:  98.13%; precision:  91.42%; recall:  91.57%; FB1:  91.49
                      LOC: precision:  93.71%; recall:  94.25%; FB1:  93.98  1847

    (the number after each type's FB1 is how many entities of it were predicted).
    """
    lines = [f"processed {result['num_tokens']} tokens with {result['num_gold']} "
             f"phrases; found: {result['num_predicted']} phrases; correct: "
             f"{result['num_correct']}."]
    if result["num_tokens"]:
        lines.append(f"accuracy: {100 * result['accuracy']:6.2f}%; "
                     f"precision: {100 * result['precision']:6.2f}%; "
                     f"recall: {100 * result['recall']:6.2f}%; "
                     f"FB1: {100 * result['f1']:6.2f}")
    for entity_type, scores in result["per_type"].items():
        lines.append(f"{entity_type:>17}: precision: {100 * scores['precision']:6.2f}%; "
                     f"recall: {100 * scores['recall']:6.2f}%; "
                     f"FB1: {100 * scores['f1']:6.2f}  {scores['num_predicted']}")
    return "\n".join(lines) + "\n"


def _count_types(chunks: Sequence[Chunk], counts: dict[str, int]) -> None:
    for entity_type, _, _ in chunks:
        counts[entity_type] = counts.get(entity_type, 0) + 1


def _scores(correct: int, gold: int, predicted: int) -> dict:
    precision = correct / predicted if predicted else 0.0
    recall = correct / gold if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "num_gold": gold,
            "num_predicted": predicted, "num_correct": correct}
