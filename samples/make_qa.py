"""Writes samples/qa/{train,dev}.json: a small made-up question-answering task about the
village of the sample corpus, in SQuAD 1.1's JSON layout, for the demo of run_squad.py.

Each passage joins one or two sentences filled from templates with people, places,
organisations, years and times; each sentence brings its questions, whose answer is
one of the names it was filled with (`answer_start` is its character offset in the
passage). A name appears only once per passage, so every answer is unambiguous.
Run from the repository root: python samples/make_qa.py
"""

import json
import pathlib
import random

# The village's people, places and organisations, as the NER sample names them.
from make_ner import ORGANISATIONS, PEOPLE, PLACES

YEARS = ["1923", "1948", "1961", "1975", "1990", "2004"]
TIMES = ["five o'clock", "six o'clock", "seven o'clock", "noon", "nine o'clock"]
POOLS = {"PER": PEOPLE, "LOC": PLACES, "ORG": ORGANISATIONS, "YEAR": YEARS,
         "TIME": TIMES}
# A sentence with slots {TYPE1}, {TYPE2} ..., and its questions: (question, the slot
# that answers it). Questions may name the other slots.
TEMPLATES = [
    ("{PER1} bakes rye bread in {LOC1} every morning.",
     [("Who bakes rye bread in {LOC1}?", "PER1"),
      ("Where does {PER1} bake rye bread?", "LOC1")]),
    ("{ORG1} paid for a new iron bridge in {LOC1}.",
     [("Who paid for the iron bridge in {LOC1}?", "ORG1"),
      ("Where did {ORG1} pay for a new bridge?", "LOC1")]),
    ("{PER1} joined {ORG1} in {YEAR1}.",
     [("When did {PER1} join {ORG1}?", "YEAR1"),
      ("Which group did {PER1} join?", "ORG1"),
      ("Who joined {ORG1} in {YEAR1}?", "PER1")]),
    ("The market in {LOC1} opens at {TIME1}.",
     [("When does the market in {LOC1} open?", "TIME1")]),
    ("{PER1} walked from {LOC1} to {LOC2} along the river.",
     [("Where did {PER1} walk to?", "LOC2"),
      ("Where did {PER1} walk from?", "LOC1"),
      ("Who walked from {LOC1} to {LOC2}?", "PER1")]),
    ("{ORG1} closed the old station in {LOC1} in {YEAR1}.",
     [("Who closed the old station in {LOC1}?", "ORG1"),
      ("When did {ORG1} close the station?", "YEAR1")]),
    ("{PER1} told {PER2} that the flood carried away the footbridge.",
     [("Who did {PER1} tell about the flood?", "PER2")]),
]
SPLITS = {"train": 240, "dev": 30}  # Passages per file.
SENTENCES_PER_PASSAGE = (1, 2)


def fill(template: str, values: dict[str, str]) -> tuple[str, dict[str, int]]:
    """`template` with its slots replaced (a capital first), and where each slot's
    value starts in it."""
    text, starts = "", {}
    for index, part in enumerate(template.split("{")):
        if index:
            slot, part = part.split("}", 1)
            starts[slot] = len(text)
            text += values[slot]
        text += part
    return text[0].upper() + text[1:], starts


def passage(rng: random.Random, name: str) -> dict:
    """One SQuAD paragraph: the passage and its questions with their answers. No word
    of a name appears in another name of the passage ("Eastbrook" and "the Eastbrook
    Council" never meet), so each answer occurs once."""
    used_words: set[str] = set()
    text, qas = "", []
    for template, questions in rng.sample(TEMPLATES, rng.randint(*SENTENCES_PER_PASSAGE)):
        values = {}
        for slot in sorted({part.split("}")[0] for part in template.split("{")[1:]}):
            choices = [value for value in POOLS[slot.rstrip("12")]
                       if not used_words & set(value.lower().split()) - {"the", "and"}]
            values[slot] = rng.choice(choices)
            used_words |= set(values[slot].lower().split()) - {"the", "and"}
        sentence, starts = fill(template, values)
        offset = len(text) + (1 if text else 0)
        text = f"{text} {sentence}" if text else sentence
        for question, slot in questions:
            answer = text[offset + starts[slot]:offset + starts[slot] + len(values[slot])]
            qas.append({"id": f"{name}-{len(qas)}", "question": question.format(**values),
                        "answers": [{"text": answer, "answer_start": offset + starts[slot]}]})
    return {"context": text, "qas": qas}


def main() -> None:
    """Writes the two files with a fixed seed."""
    rng = random.Random(2026)
    directory = pathlib.Path(__file__).resolve().parent / "qa"
    directory.mkdir(exist_ok=True)
    for split, count in SPLITS.items():
        paragraphs = [passage(rng, f"{split}-{index}") for index in range(count)]
        data = {"version": "1.1",
                "data": [{"title": "Village life", "paragraphs": paragraphs}]}
        (directory / f"{split}.json").write_text(
            json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
