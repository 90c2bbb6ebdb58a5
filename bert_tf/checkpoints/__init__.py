"""Loading Google, Hugging Face and own BERT checkpoints; writing Google-format ones and
Hugging Face model folders.

Every format is read into one namespace, Google's TF1 variable names
(`bert/encoder/layer_0/attention/self/query/kernel`, ...), and matched against the
model through the table the model itself declares (`model.google_variable_map()`, see
`bert_tf.modeling`). Hugging Face names are derived from Google's by
`hugging_face_names` (dots for slashes, `layer.N` for `layer_N`, `weight` for
`kernel`/`gamma`, kernels transposed: PyTorch stores `[out, in]`; `bias` for `beta`),
except the heads', which the model names (`model.hugging_face_head_names()`).

Modules:
  variable_names: the model's names, and Google's names turned into Hugging Face's.
  formats: finding, reading and writing the files of each format.
  loading: `load_checkpoint` into a model, `save_google_checkpoint` from one.
  hugging_face_export: `save_hugging_face`, a model as a folder transformers loads.
  peft_export: `save_lora_adapter`, a LoRA model's adapters as peft writes them.
  model_files: the config and vocabulary found beside a checkpoint.
"""

from bert_tf.checkpoints.formats import CheckpointError
from bert_tf.checkpoints.hugging_face_export import (check_hugging_face_directory,
                                                     save_hugging_face)
from bert_tf.checkpoints.loading import (LoadReport, load_checkpoint, read_checkpoint,
                                         save_google_checkpoint)
from bert_tf.checkpoints.model_files import (check_vocab_fits_config, companion_file,
                                             resolve_model_files)
from bert_tf.checkpoints.peft_export import save_lora_adapter
from bert_tf.checkpoints.variable_names import google_variable_map, hugging_face_names

__all__ = ["CheckpointError", "LoadReport", "check_hugging_face_directory",
           "check_vocab_fits_config", "companion_file",
           "google_variable_map", "hugging_face_names", "load_checkpoint", "read_checkpoint",
           "resolve_model_files", "save_google_checkpoint", "save_hugging_face",
           "save_lora_adapter"]
