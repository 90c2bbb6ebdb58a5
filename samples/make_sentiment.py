"""Writes samples/sentiment/{train,dev,test}.tsv: a small made-up sentiment task about
the village of the sample corpus, for `make demo` and the tests.

Each review joins a subject, a positive or negative verdict and a closing remark; the
label follows the verdict. Run from the repository root: python samples/make_sentiment.py
"""

import pathlib
import random

SUBJECTS = ["The rye bread", "The bakery on the square", "The market on Saturday",
            "The library", "The new bridge", "The apples from the farm", "The mill",
            "The walk along the rivers", "The cafe by the quarry", "The morning bus",
            "The barley soup", "The village school", "The old stone houses",
            "The flour from the mill", "The children's festival"]
POSITIVE = ["was wonderful", "is fresh and warm", "was a real delight", "is lovely",
            "was excellent", "made us very happy", "is the best in the valley",
            "was friendly and welcoming", "is great value", "was beautiful"]
NEGATIVE = ["was terrible", "is stale and cold", "was a big disappointment", "is awful",
            "was dirty", "made us very unhappy", "is the worst in the valley",
            "was rude and unwelcoming", "is far too expensive", "was ugly"]
REMARKS = ["", " this time", " again", " as always", " on our visit",
           " according to my neighbour", " last week"]
SPLITS = {"train": 240, "dev": 60, "test": 20}


def main() -> None:
    """Writes the three files with a fixed seed."""
    rng = random.Random(2026)
    directory = pathlib.Path(__file__).resolve().parent / "sentiment"
    directory.mkdir(exist_ok=True)
    for split, count in SPLITS.items():
        lines = ["sentence\tlabel"]
        for _ in range(count):
            label = rng.choice(["positive", "negative"])
            verdict = rng.choice(POSITIVE if label == "positive" else NEGATIVE)
            sentence = f"{rng.choice(SUBJECTS)} {verdict}{rng.choice(REMARKS)}."
            lines.append(f"{sentence}\t{label}")
        (directory / f"{split}.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
