"""A LoRA-trained model's adapters alone, as Hugging Face's peft writes them, so that
`peft.PeftModel.from_pretrained(base, directory)` puts them on the base model:

    directory/adapter_config.json        LoraConfig: r, lora_alpha, target_modules, task
    directory/adapter_model.safetensors  base_model.model.<module>.lora_A.weight [r, in],
                                         ...lora_B.weight [out, r], and the task head
                                         (peft's modules_to_save) under its HF names

A few MB instead of the whole model. The adapters are those `bert_tf.training.lora`
adds (`model.lora_options`); transformers' names come from the same rules as
`save_hugging_face`'s.
"""

import json
import os
import re

import numpy as np
import tensorflow as tf
from absl import logging

from bert_tf.checkpoints.hugging_face_export import (check_hugging_face_directory,
                                                     hugging_face_architecture,
                                                     weight_prefix, write_safetensors)
from bert_tf.checkpoints.variable_names import (NamedModel, google_variable_map,
                                                hugging_face_head_names,
                                                hugging_face_names)
from bert_tf.errors import InvalidArgumentError
from bert_tf.io import temporary_path

ADAPTER_CONFIG_FILE = "adapter_config.json"
ADAPTER_FILE = "adapter_model.safetensors"
# transformers class -> (peft's task type, the head module peft saves with the adapters).
_TASKS = {"BertForSequenceClassification": ("SEQ_CLS", "classifier"),
          "BertForTokenClassification": ("TOKEN_CLS", "classifier"),
          "BertForQuestionAnswering": ("QUESTION_ANS", "qa_outputs")}


def adapter_tensors(model: NamedModel) -> tuple[dict[str, np.ndarray], list[str]]:
    """The adapters and head of a LoRA model under peft's names and layout, and the
    adapted modules' paths inside an encoder layer (`attention.self.query`, ...)."""
    prefix = weight_prefix(model)
    head_names = hugging_face_head_names(model)
    tensors, modules = {}, set()
    for google_name, variable in google_variable_map(model).items():
        value = np.asarray(variable, dtype=np.float32)
        if google_name.endswith(("/lora_a", "/lora_b")):
            kernel_name = google_name.rsplit("/", 1)[0] + "/kernel"
            module = hugging_face_names(kernel_name)[0][0].removesuffix(".weight")
            modules.add(re.sub(r"^encoder\.layer\.\d+\.", "", module))
            part = "lora_A" if google_name.endswith("/lora_a") else "lora_B"
            # Keras keeps A [in, r] and B [r, out]; PyTorch's Linear weights are [out, in].
            tensors[f"base_model.model.{prefix}{module}.{part}.weight"] = \
                np.ascontiguousarray(value.T)
        elif google_name in head_names:
            tensors[f"base_model.model.{head_names[google_name]}"] = value
    return tensors, sorted(modules)


def save_lora_adapter(model: NamedModel, directory: str,
                      base_model_name_or_path: str | None = None) -> str:
    """Writes the adapters (and task head) of a LoRA-trained `model` in peft's layout
    (see the module docstring) into the new or empty folder `directory`.

    Args:
      model: a `BertClassifier`, `BertTokenClassifier` or `BertSpanExtractor` with
        LoRA (`bert_tf.training.lora.enable`).
      directory: the folder to write.
      base_model_name_or_path: recorded in `adapter_config.json` (the base model's
        Hugging Face folder or hub name), if given.

    Raises:
      InvalidArgumentError: naming `directory` (a file, or a folder with files) or
        `export_lora_only` for a model without adapters or with a CRF.
    """
    options = getattr(model, "lora_options", None)
    if options is None or not options.enabled:
        raise InvalidArgumentError("export_lora_only", True, "needs a model trained with "
                                   "LoRA (lora_rank > 0).")
    architecture = hugging_face_architecture(model)
    if architecture not in _TASKS or hasattr(model, "crf"):
        raise InvalidArgumentError("export_lora_only", True, f"supports "
                                   f"{', '.join(_TASKS)} heads without a CRF (peft has no "
                                   "CRF); export the merged model instead.")
    check_hugging_face_directory(directory)
    task_type, head = _TASKS[architecture]
    tensors, modules = adapter_tensors(model)
    prefix = weight_prefix(model)
    config = {
        "peft_type": "LORA", "task_type": task_type, "r": options.rank,
        "lora_alpha": options.scale * options.rank, "lora_dropout": 0.0, "bias": "none",
        "target_modules": (re.escape(prefix) + r"encoder\.layer\.\d+\."
                           f"({'|'.join(re.escape(module) for module in modules)})"),
        "modules_to_save": [head], "fan_in_fan_out": False, "inference_mode": True,
        "use_rslora": False, "use_dora": False,
        "base_model_name_or_path": base_model_name_or_path,
    }
    directory = directory.rstrip("/") or "/"
    temporary = temporary_path(directory)
    try:
        tf.io.gfile.makedirs(temporary)
        write_safetensors(os.path.join(temporary, ADAPTER_FILE), tensors)
        with tf.io.gfile.GFile(os.path.join(temporary, ADAPTER_CONFIG_FILE), "w") as writer:
            writer.write(json.dumps(config, indent=2) + "\n")
        check_hugging_face_directory(directory)
        if tf.io.gfile.exists(directory):
            tf.io.gfile.rmtree(directory)  # Empty: checked just above.
        tf.io.gfile.rename(temporary, directory)
    finally:
        if tf.io.gfile.exists(temporary):
            tf.io.gfile.rmtree(temporary)
    logging.info("Wrote the LoRA adapter (rank %d, %s) in peft's layout to %s",
                 options.rank, ", ".join(modules), directory)
    return directory
