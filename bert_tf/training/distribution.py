"""Where training runs: the `tf.distribute` strategy (one device, local GPUs, several
machines, a TPU), the mixed-precision policy, and which worker is the chief."""

import keras
import tensorflow as tf
from absl import logging

from bert_tf.errors import InvalidArgumentError, UserInputError

STRATEGIES = ("default", "mirrored", "multi_worker_mirrored", "tpu")
PRECISIONS = {"none": "float32", "bf16": "mixed_bfloat16", "fp16": "mixed_float16"}


def make_strategy(distribution_strategy: str, tpu: str | None = None,
                  tpu_zone: str | None = None,
                  gcp_project: str | None = None) -> tf.distribute.Strategy:
    """The `tf.distribute` strategy of that name (one of `STRATEGIES`).

    "default" runs on one device, "mirrored" on all local GPUs (or CPU),
    "multi_worker_mirrored" on several machines described by `TF_CONFIG`, "tpu" on the
    TPU named by `tpu` (a name, a `grpc://` address, or "local" / "" on Colab) in
    `tpu_zone` of `gcp_project`.

    Raises:
      InvalidArgumentError: for another name.
    """
    if distribution_strategy not in STRATEGIES:
        raise InvalidArgumentError("distribution_strategy", distribution_strategy,
                                   f"must be one of {', '.join(STRATEGIES)}.")
    if distribution_strategy == "default":
        return tf.distribute.get_strategy()
    if distribution_strategy == "mirrored":
        # All GPUs; without GPUs, every logical CPU device (one, unless configured).
        devices = [device.name for device in (tf.config.list_logical_devices("GPU")
                                              or tf.config.list_logical_devices("CPU"))]
        logging.info("Mirrored over %d replicas: %s", len(devices), ", ".join(devices))
        return tf.distribute.MirroredStrategy(devices)
    if distribution_strategy == "multi_worker_mirrored":
        return tf.distribute.MultiWorkerMirroredStrategy()
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver(
        tpu=tpu or "", zone=tpu_zone, project=gcp_project)
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return tf.distribute.TPUStrategy(resolver)


def check_tpu_paths(paths: dict[str, list[str]]) -> None:
    """TPU workers read only Cloud Storage: refuses local paths before connecting.

    Args:
      paths: what named the paths, as the caller words it (an argument, or a script's
        flag such as "--output_dir") -> the paths given for it.

    Raises:
      UserInputError: naming the first of `paths` with a local path.
    """
    for argument, values in paths.items():
        local = [path for path in values if path and not path.startswith("gs://")]
        if local:
            raise UserInputError(f"{argument} {local[0]!r} is a local path, but TPU workers "
                                 "can only read Cloud Storage: copy it to a gs:// bucket and "
                                 "pass the gs:// path.")


def set_precision(mixed_precision: str) -> None:
    """Sets Keras' global dtype policy for a precision of `PRECISIONS`: "none"
    (float32), "bf16" or "fp16" (mixed, with float32 weights).

    Raises:
      InvalidArgumentError: for another name.
    """
    if mixed_precision not in PRECISIONS:
        raise InvalidArgumentError("mixed_precision", mixed_precision,
                                   f"must be one of {', '.join(PRECISIONS)}.")
    keras.mixed_precision.set_global_policy(PRECISIONS[mixed_precision])


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """True unless this is a non-chief worker of a multi-worker run."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.cluster_spec().as_dict():
        return True
    if resolver.task_type == "chief":
        return True
    return resolver.task_type == "worker" and resolver.task_id == 0 and \
        "chief" not in resolver.cluster_spec().as_dict()
