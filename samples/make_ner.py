"""Writes samples/ner/{train,dev,test}.txt: a small made-up named-entity task about the
village of the sample corpus, for the demo and the tests of run_ner.py.

Sentences fill templates with people (PER), places (LOC) and organisations (ORG).
Some names are shared between types ("Ashby" the family, "Ashby Hill" the place), so
the context decides. The files are in CoNLL-2003's layout and tag scheme (IOB1: `I-`
inside entities, `B-` only where two of a type touch), with a `-DOCSTART-` line before
every ten sentences. Run from the repository root: python samples/make_ner.py
"""

import pathlib
import random

PEOPLE = ["Anna Miller", "Tom Hale", "Mr Fenwick", "Mrs Ashby", "Sara Brook",
          "Ben Stone", "Mr Carter", "Mrs Hale", "Lucy Fenwick", "Old Tom", "Nina Ashby",
          "Mr Webb", "Dr Marsh", "Emma", "Jack Wheeler"]
PLACES = ["Eastbrook", "Westford", "Northmere", "Ashby Hill", "Green Harbour",
          "Stonecross", "the Hollow Valley", "Millbridge", "Southwater", "Carter Peaks"]
ORGANISATIONS = ["the Eastbrook Council", "the Valley Bus Company", "the Millers Guild",
                 "Hale and Sons", "the Westford Library", "Stone Bakery",
                 "the Harbour Trust", "the Walkers Club"]
TEMPLATES = [
    "{PER} bakes rye bread in {LOC} every morning .",
    "{PER} walked from {LOC} to {LOC} along the rivers .",
    "{ORG} paid for a new iron bridge in {LOC} .",
    "Visitors often ask {PER} why the church clock runs fast .",
    "{PER} of {ORG} sells apples at the market on Saturday .",
    "The market in {LOC} opens at five o'clock .",
    "{PER} and {PER} met at the mill below {LOC} .",
    "{ORG} renewed the ticket fee for the journey to {LOC} .",
    "The library lends books and films , said {PER} .",
    "Farmers bring wheat and barley to {LOC} on Tuesday .",
    "{PER} joined {ORG} in 1923 .",
    "Walkers should carry a map and a compass on {LOC} , warned {PER} .",
    "{ORG} closed the old station in {LOC} .",
    "In {LOC} the weather changes quickly .",
    "{PER} told {PER} that the flood carried away the footbridge .",
    "The buses of {ORG} run twice a day to {LOC} .",
    "Mix the flour and water first , {PER} said .",
    "Nobody in {LOC} remembers the storms of the 1960s .",
]
POOLS = {"PER": PEOPLE, "LOC": PLACES, "ORG": ORGANISATIONS}
SPLITS = {"train": 360, "dev": 80, "test": 60}
SENTENCES_PER_DOCUMENT = 10


def iob1(entity_words: list[str], entity_type: str, touches: bool) -> list[str]:
    """IOB1 tags of one entity: `I-` throughout, `B-` first if it touches an entity of
    the same type."""
    tags = [f"I-{entity_type}"] * len(entity_words)
    if touches:
        tags[0] = f"B-{entity_type}"
    return tags


def sentence(rng: random.Random) -> list[tuple[str, str]]:
    """One filled template as (word, tag) pairs."""
    pairs: list[tuple[str, str]] = []
    for token in rng.choice(TEMPLATES).split():
        if token.startswith("{"):
            entity_type = token[1:-1]
            name = rng.choice(POOLS[entity_type])
            # "the" opens some places and organisations but is not part of the name.
            if name.startswith("the "):
                pairs.append(("the", "O"))
                name = name[4:]
            words = name.split()
            touches = bool(pairs) and pairs[-1][1].endswith("-" + entity_type)
            pairs.extend(zip(words, iob1(words, entity_type, touches)))
        else:
            pairs.append((token, "O"))
    if pairs[0][1] == "O":
        pairs[0] = (pairs[0][0][0].upper() + pairs[0][0][1:], "O")
    return pairs


def main() -> None:
    """Writes the three files with a fixed seed."""
    rng = random.Random(2026)
    directory = pathlib.Path(__file__).resolve().parent / "ner"
    directory.mkdir(exist_ok=True)
    for split, count in SPLITS.items():
        lines = []
        for index in range(count):
            if index % SENTENCES_PER_DOCUMENT == 0:
                lines += ["-DOCSTART- O", ""]
            lines += [f"{word} {tag}" for word, tag in sentence(rng)] + [""]
        (directory / f"{split}.txt").write_text("\n".join(lines), encoding="utf-8")


if __name__ == "__main__":
    main()
