"""LoRA (Hu et al. 2021): fine-tune low-rank adapters on the encoder's projections and
the task head, with the pre-trained weights frozen.

A target projection `W` [in, out] gains `A` [in, r] and `B` [r, out] (B starts at zero,
so training starts from the pre-trained model) and computes with
`W + (alpha / r) * A @ B`: Keras' own `Dense.enable_lora`. In checkpoints the adapters
sit beside the frozen kernel in Google's naming,
`bert/encoder/layer_0/attention/self/query/lora_a` and `.../lora_b`. `merged` gives
the plain model with the adapters folded into the kernels, for exports.
"""

import dataclasses
import typing

import numpy as np

from bert_tf.errors import InvalidArgumentError

# Light at import (the flags module reads the target names before TensorFlow loads).
if typing.TYPE_CHECKING:
    import keras

# Target names (as peft's `target_modules` name BERT's modules) -> the projection of a
# `TransformerBlock`.
TARGETS = {
    "query": lambda block: block.attention.query,
    "key": lambda block: block.attention.key,
    "value": lambda block: block.attention.value,
    "attention_output": lambda block: block.attention.output_dense,
    "intermediate": lambda block: block.intermediate,
    "output": lambda block: block.output_dense,
}
DEFAULT_TARGETS = ("query", "value")


@dataclasses.dataclass(frozen=True)
class LoraOptions:
    """Which projections get adapters, and their size.

    Attributes:
      rank: r, the adapters' inner size; 0 turns LoRA off.
      alpha: the scale numerator (the update is scaled by alpha / r); None: r.
      targets: names of `TARGETS`.
    """

    rank: int = 0
    alpha: float | None = None
    targets: tuple[str, ...] = DEFAULT_TARGETS

    @property
    def enabled(self) -> bool:
        """Whether LoRA is on."""
        return self.rank > 0

    @property
    def scale(self) -> float:
        """alpha / r."""
        return (self.rank if self.alpha is None else self.alpha) / self.rank

    def validate(self) -> None:
        """Raises InvalidArgumentError naming `lora_rank`, `lora_alpha` or
        `lora_targets` if one is out of range."""
        if self.rank < 0:
            raise InvalidArgumentError("lora_rank", self.rank, "must be 0 (off) or more.")
        if self.alpha is not None and self.alpha <= 0:
            raise InvalidArgumentError("lora_alpha", self.alpha, "must be positive.")
        unknown = [target for target in self.targets if target not in TARGETS]
        if unknown or not self.targets:
            raise InvalidArgumentError("lora_targets", ",".join(self.targets),
                                       f"must name some of {', '.join(TARGETS)}.")


def projections(model: "keras.Model", targets: tuple[str, ...],
                ) -> list["keras.layers.Dense"]:
    """The target projections of every encoder layer of `model` (anything with
    `.bert`, or a `BertModel`)."""
    encoder = (model.bert if hasattr(model, "bert") else model).encoder
    return [TARGETS[target](block) for block in encoder.blocks for target in targets]


def enable(model: "keras.Model", options: LoraOptions) -> None:
    """Adds adapters to the target projections and freezes every other weight of the
    encoder (the task head stays trainable). Load pre-trained weights before this:
    the adapters start at zero either way."""
    options.validate()
    bert = model.bert if hasattr(model, "bert") else model
    bert.trainable = False
    for layer in projections(model, options.targets):
        layer.trainable = True
        layer.enable_lora(options.rank, lora_alpha=options.scale * options.rank)
        layer.bias.trainable = False  # Keras keeps the bias trainable; LoRA does not.
    model.lora_options = options


def merged(model: "keras.Model") -> "keras.Model":
    """`model` itself without LoRA; otherwise a new model of the same class and config
    whose kernels are the adapted ones (`W + scale * A @ B`) and whose other weights
    are `model`'s: what exports write, so serving needs no adapters."""
    options = getattr(model, "lora_options", None)
    if options is None or not options.enabled:
        return model
    plain = type(model).from_config(model.get_config())
    values = {name: np.asarray(variable)
              for name, variable in model.google_variable_map().items()}
    for name in [name for name in values if name.endswith("/lora_a")]:
        prefix = name[:-len("/lora_a")]
        values[f"{prefix}/kernel"] = (values[f"{prefix}/kernel"] + options.scale
                                      * values.pop(name) @ values.pop(f"{prefix}/lora_b"))
    targets = plain.google_variable_map()
    if sorted(targets) != sorted(values):
        raise ValueError("The merged weights do not name the plain model's variables.")
    for name, variable in targets.items():
        variable.assign(values[name])
    return plain
