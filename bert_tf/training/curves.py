"""A picture of a run: the training loss and the dev scores over the steps, drawn from
the TensorBoard scalars the run wrote (`output_dir/train`, `output_dir/eval`) into
`output_dir/training_curves.png`. Drawing needs matplotlib, an optional dependency
(`pip install bert_tf[plots]`); without it the run says so once and goes on."""

import io
import os

import tensorflow as tf
from absl import logging
from tensorflow.core.util import event_pb2

from bert_tf import io as outputs

CURVES_FILE = "training_curves.png"


def read_scalars(log_dir: str) -> dict[str, list[tuple[int, float]]]:
    """The scalars of the TensorBoard event files in `log_dir`, by name, as (step,
    value) in file order; empty if the folder holds none."""
    scalars: dict[str, list[tuple[int, float]]] = {}
    for path in sorted(tf.io.gfile.glob(os.path.join(log_dir, "events.out.tfevents.*"))):
        for record in tf.data.TFRecordDataset(path):
            event = event_pb2.Event.FromString(record.numpy())
            for value in event.summary.value:
                scalars.setdefault(value.tag, []).append(
                    (event.step, float(tf.make_ndarray(value.tensor))))
    return scalars


def write_curves(output_dir: str, metric: str | None = None) -> str | None:
    """Draws the training loss and, if the run evaluated, the dev `eval_loss` and
    `metric` (e.g. `eval_accuracy`) over the steps into `output_dir/CURVES_FILE`
    (written under a temporary name, then renamed). Returns the path, or None when
    there is nothing to draw or matplotlib is missing (logged)."""
    train = read_scalars(os.path.join(output_dir, "train"))
    evaluation = read_scalars(os.path.join(output_dir, "eval"))
    if "loss" not in train:
        return None
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        logging.info("Install matplotlib (pip install bert_tf[plots]) to get %s.",
                     CURVES_FILE)
        return None
    panels = [("loss", {"train": train["loss"]})]
    if "eval_loss" in evaluation:
        panels[0][1]["dev"] = evaluation["eval_loss"]
    if metric and metric in evaluation:
        panels.append((f"dev {metric.removeprefix('eval_')}", {"dev": evaluation[metric]}))
    figure = Figure(figsize=(5 * len(panels), 3.5), layout="tight")
    FigureCanvasAgg(figure)
    for index, (title, series) in enumerate(panels, start=1):
        axes = figure.add_subplot(1, len(panels), index)
        for label, points in series.items():
            steps, values = zip(*points)
            axes.plot(steps, values, marker="o" if len(points) < 20 else None,
                      label=label)
        axes.set_title(title)
        axes.set_xlabel("step")
        if len(series) > 1:
            axes.legend()
    image = io.BytesIO()
    figure.savefig(image, format="png", dpi=100)
    path = os.path.join(output_dir, CURVES_FILE)
    temporary = outputs.temporary_path(path)
    with tf.io.gfile.GFile(temporary, "wb") as writer:
        writer.write(image.getvalue())
    tf.io.gfile.rename(temporary, path, overwrite=True)
    return path
