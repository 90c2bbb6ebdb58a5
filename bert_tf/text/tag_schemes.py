"""Tag schemes of token labelling (named entities): splitting tags, converting between
IOB1, IOB2, IOBES and BILOU, and detecting a scheme.

    scheme  prefixes     an entity of three words, and two touching one-word entities
    iob1    I B          I-PER I-PER I-PER    I-LOC B-LOC   (B only where two touch)
    iob2    B I          B-PER I-PER I-PER    B-LOC B-LOC
    iobes   B I E S      B-PER I-PER E-PER    S-LOC S-LOC
    bilou   B I L U      B-PER I-PER L-PER    U-LOC U-LOC

The NER task reads and writes files in any of them and trains on IOB2; SavedModels chunk
their predicted tags into entities with the same rules.
"""

from collections.abc import Sequence

from bert_tf.errors import UserInputError

OUTSIDE = "O"
SCHEMES = ("iob1", "iob2", "iobes", "bilou")
SCHEME_PREFIXES = {"iob1": "BI", "iob2": "BI", "iobes": "BIES", "bilou": "BILU"}
BILOU_TO_IOBES = {"L": "E", "U": "S"}


def split_tag(tag: str) -> tuple[str, str]:
    """Splits `"B-PER"` into `("B", "PER")`; `"O"` gives `("O", "")`.

    Raises:
      ValueError: if `tag` is neither `O` nor a one-letter prefix, `-` and a type.
    """
    if tag == OUTSIDE:
        return OUTSIDE, ""
    if len(tag) < 3 or tag[1] != "-":
        raise ValueError(f"tag {tag!r} is neither 'O' nor 'X-TYPE'")
    return tag[0], tag[2:]


def to_iob2(tags: Sequence[str]) -> list[str]:
    """Converts a tag sequence of any scheme (IOB1, IOB2, IOBES, BILOU) to IOB2.

    Lenient, for model outputs too: an `I-X` or `E-X` (`L-X`) continues an entity only
    right after `B-X` or `I-X`; anywhere else it starts one, as do `B-X` and `S-X`
    (`U-X`). This is the chunking of conlleval and seqeval's default mode.

    Raises:
      ValueError: on a tag that is not `O` or `X-TYPE` with X in B, I, E, S, L, U.
    """
    output = []
    previous_prefix, previous_type = OUTSIDE, ""
    for tag in tags:
        prefix, entity_type = split_tag(tag)
        prefix = BILOU_TO_IOBES.get(prefix, prefix)
        if prefix == OUTSIDE:
            output.append(OUTSIDE)
        elif prefix in ("B", "S"):
            output.append("B-" + entity_type)
        elif prefix in ("I", "E"):
            continues = previous_prefix in ("B", "I") and previous_type == entity_type
            output.append(("I-" if continues else "B-") + entity_type)
        else:
            raise ValueError(f"tag {tag!r} has prefix {prefix!r}; expected one of "
                             "B, I, E, S, L, U")
        previous_prefix, previous_type = prefix, entity_type
    return output


def from_iob2(tags: Sequence[str], scheme: str) -> list[str]:
    """Writes IOB2 `tags` (normalised first with `to_iob2`) in `scheme`.

    `iob1` uses `B-X` only for an entity that directly follows another of type X;
    `iobes` and `bilou` mark the last word (`E-`/`L-`) and one-word entities (`S-`/`U-`).
    """
    check_scheme_name(scheme, allow_auto=False)
    tags = to_iob2(tags)
    if scheme == "iob2":
        return tags
    output = []
    for index, tag in enumerate(tags):
        prefix, entity_type = split_tag(tag)
        if prefix == OUTSIDE:
            output.append(tag)
            continue
        if scheme == "iob1":
            previous = tags[index - 1] if index else OUTSIDE
            touches = prefix == "B" and split_tag(previous)[1] == entity_type
            output.append(("B-" if touches else "I-") + entity_type)
            continue
        following = tags[index + 1] if index + 1 < len(tags) else OUTSIDE
        continued = following == "I-" + entity_type
        if prefix == "B":
            prefix = "B" if continued else "S"
        else:
            prefix = "I" if continued else "E"
        if scheme == "bilou":
            prefix = {"E": "L", "S": "U"}.get(prefix, prefix)
        output.append(f"{prefix}-{entity_type}")
    return output


def detect_scheme(tag_sequences: Sequence[Sequence[str]]) -> str:
    """Guesses the scheme of well-formed tags: `iobes` if any `E-`/`S-` occurs,
    `bilou` if any `L-`/`U-`, else `iob1` if some `I-X` starts an entity (after `O` or
    another type), else `iob2`.

    Raises:
      ValueError: if both `E-`/`S-` and `L-`/`U-` occur.
    """
    prefixes = set()
    starts_with_inside = False
    for tags in tag_sequences:
        previous = OUTSIDE
        for tag in tags:
            prefix, entity_type = split_tag(tag)
            prefixes.add(prefix)
            if prefix == "I" and previous not in ("B-" + entity_type, "I-" + entity_type):
                starts_with_inside = True
            previous = tag
    if prefixes & set("ES") and prefixes & set("LU"):
        raise ValueError("tags mix the IOBES prefixes E-/S- with the BILOU prefixes L-/U-")
    if prefixes & set("ES"):
        return "iobes"
    if prefixes & set("LU"):
        return "bilou"
    return "iob1" if starts_with_inside else "iob2"


def check_scheme_name(scheme: str, allow_auto: bool) -> None:
    """Refuses a scheme name outside `SCHEMES` (and "auto", where detection is allowed)."""
    allowed = (("auto",) if allow_auto else ()) + SCHEMES
    if scheme not in allowed:
        raise UserInputError(f"Unknown tag scheme {scheme!r}; use one of {allowed}.")
