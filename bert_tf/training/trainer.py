"""The training loop every script shares: steps, accumulation, evaluation, checkpoints.

One code path for CPU, GPUs, several machines and TPUs: the model and optimizer are
created under a `tf.distribute` strategy, each replica computes gradients on its share
of the global batch (optionally over several micro-batches), the gradients are summed
across replicas and the optimizer (with its global-norm clipping) is applied once to
the sum, so the update is the one a single device would make on the global batch.
The strategy and the precision policy are made by `bert_tf.training.distribution`.
"""

import math
import os
import time
import weakref
from typing import Callable

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from bert_tf import console
from bert_tf.errors import TrainingError, UserInputError
from bert_tf.layers import dropout
from bert_tf.training.checkpoints import TrainingCheckpoints
from bert_tf.training.distribution import is_chief


class Trainer:
    """Runs training steps, evaluation and checkpoints for one model.

    Args:
      strategy: where to run (the model and optimizer must be created in its scope).
      model: a Keras model called as `model(features, training=...)`.
      optimizer: an optimizer of `bert_tf.training.optimization`, whose slots are
        checkpointed (wrapped in Keras' `LossScaleOptimizer` for fp16).
      loss_fn: `(outputs, features) -> dict` with a scalar `loss` and any other
        scalars to log; entries ending in `_correct` / `_count` are summed and
        reported as `<name>_accuracy`.
      output_dir: where checkpoints and TensorBoard summaries go.
      gradient_accumulation_steps: micro-batches per optimizer step.
      jit_compile: compile the step with XLA.
      keep_checkpoints: how many of the newest checkpoints to keep.
      seed: the dropout masks of a step are drawn from (seed, step, micro-batch,
        replica), so a resumed run draws the masks the uninterrupted run would.
      run_kind: what trains here (e.g. "run_classifier.py"), recorded with the
        checkpoints: an `output_dir` holding checkpoints of another kind is refused.
        Default: the model's class name.
    """

    def __init__(self, strategy: tf.distribute.Strategy, model: keras.Model,
                 optimizer: keras.optimizers.Optimizer, loss_fn: Callable,
                 output_dir: str, gradient_accumulation_steps: int = 1,
                 jit_compile: bool = False, keep_checkpoints: int = 5, seed: int = 0,
                 run_kind: str | None = None):
        """Sets up; nothing runs until `train` or `evaluate`.

        Raises:
          UserInputError: if `output_dir` holds checkpoints this project did not
            write, or of another kind of run or another model (an
            `InvalidArgumentError` for `output_dir`, or one naming the checkpoint).
        """
        self.strategy = strategy
        self.model = model
        self.optimizer = optimizer
        self.loss_fn = loss_fn
        self.output_dir = output_dir
        self.accumulation = gradient_accumulation_steps
        self.jit_compile = jit_compile
        self.seed = seed
        self.is_chief = is_chief(strategy)
        # Other workers of a multi-worker run keep their checkpoints to themselves.
        checkpoint_dir = output_dir if self.is_chief else os.path.join(
            output_dir, f"worker-{strategy.cluster_resolver.task_id}")
        self.checkpoints = TrainingCheckpoints(checkpoint_dir, model, optimizer,
                                               keep_checkpoints,
                                               run_kind or type(model).__name__)
        self._replica_fn = (tf.function(self._replica_gradients, jit_compile=True)
                            if jit_compile else self._replica_gradients)
        with strategy.scope():
            optimizer.build(model.trainable_variables)

    @property
    def step(self) -> int:
        """Optimizer steps taken so far."""
        return int(self.optimizer.iterations.numpy())

    def _replica_gradients(self, micro_batches, step):
        """Gradients of the mean loss over this replica's micro-batches, scaled so
        that summing over replicas gives the global-batch mean.

        Dropout masks come from (seed, `step`, micro-batch, replica), not from a
        generator's state: nothing about them needs saving for a resumed run to draw
        the same ones, and each replica draws its own. `step` is the optimizer step
        before this update, read once for all replicas by the caller."""
        variables = self.model.trainable_variables
        context = tf.distribute.get_replica_context()
        replicas = context.num_replicas_in_sync
        total, stats = None, None
        for index, features in enumerate(micro_batches):
            seed = dropout.step_seed(self.seed, step, index, context.replica_id_in_sync_group)
            with tf.GradientTape() as tape, dropout.seeded(seed):
                outputs = self.model(features, training=True)
                losses = self.loss_fn(outputs, features)
                loss = losses["loss"] / float(replicas * self.accumulation)
                scaled = self.optimizer.scale_loss(loss)
            gradients = tape.gradient(scaled, variables)
            gradients = [tf.convert_to_tensor(g) if isinstance(g, tf.IndexedSlices) else g
                         for g in gradients]
            total = gradients if total is None else [a + b for a, b in zip(total, gradients)]
            stats = losses if stats is None else {k: stats[k] + losses[k] for k in stats}
        return total, stats

    def _train_step(self, iterator):
        micro_batches = [next(iterator) for _ in range(self.accumulation)]
        step = tf.identity(self.optimizer.iterations)  # Before this step's update.
        gradients, stats = self.strategy.run(self._replica_fn, args=(micro_batches, step))
        gradients = [self.strategy.reduce("SUM", g, axis=None) for g in gradients]
        self.optimizer.apply_gradients(zip(gradients, self.model.trainable_variables))
        return {name: self.strategy.reduce("SUM", value, axis=None)
                for name, value in stats.items()}

    def _compile_train_loop(self):
        @tf.function
        def loop(iterator, steps):
            totals = self._train_step(iterator)
            for _ in tf.range(steps - 1):
                stats = self._train_step(iterator)
                totals = {name: totals[name] + stats[name] for name in totals}
            return totals

        return loop

    def train(self, dataset_fn: Callable, num_steps: int, global_batch_size: int,
              save_every: int, steps_per_loop: int = 1, log_every: int = 100,
              after_save: Callable[[int], bool] | None = None,
              on_progress: Callable[[int, int, dict], None] | None = None) -> dict:
        """Trains until the optimizer has taken `num_steps` steps, resuming from the
        last checkpoint this project wrote in `output_dir`.

        Args:
          dataset_fn: `(input_context) -> tf.data.Dataset` of per-replica batches; it
            must give the same batches in the same order every time (seeded), since a
            resumed run skips the ones already trained on.
          num_steps: the total number of optimizer steps.
          on_progress: called as `on_progress(step, num_steps, metrics)` after every
            call into the training loop (e.g. to draw a progress bar).
          global_batch_size: examples per micro-batch over all replicas.
          save_every: checkpoint every this many steps (and at the end).
          steps_per_loop: steps per call into the compiled loop (Google's
            --iterations_per_loop).
          log_every: steps between progress lines and summaries.
          after_save: called with the step after each checkpoint is written (e.g. to
            evaluate), and with the restored step after resuming, so that a run killed
            between a save and this call does not skip it (it may have run already:
            the callback decides); training stops early when it returns True.

        Returns:
          the last logged metrics.

        Raises:
          TrainingError: if the loss becomes NaN or infinite; nothing is saved then.
        """
        resumed = self.checkpoints.restore_latest()
        stop = False
        if resumed is not None:
            logging.warning("Resumed from %s at step %d", resumed, self.step)
            if self.step >= num_steps:
                logging.warning("That run had finished (%d of %d steps): nothing is "
                                "trained; to train again, use a new output folder.",
                                self.step, num_steps)
            stop = after_save is not None and after_save(self.step)
            if stop:
                logging.info("Stopped early at step %d.", self.step)
        consumed_steps = self.step

        def resumed_dataset_fn(context: tf.distribute.InputContext) -> tf.data.Dataset:
            # Each input pipeline feeds its share of the replicas; skip what the
            # restored steps already used, so no example is seen twice.
            per_step = (self.accumulation * self.strategy.num_replicas_in_sync
                        // context.num_input_pipelines)
            return dataset_fn(context).skip(consumed_steps * per_step)

        iterator = iter(self.strategy.distribute_datasets_from_function(resumed_dataset_fn))
        writer = (tf.summary.create_file_writer(os.path.join(self.output_dir, "train"))
                  if self.is_chief else tf.summary.create_noop_writer())
        loop = self._compile_train_loop()
        metrics = {}
        training_started, steps_before = time.time(), self.step
        while not stop and self.step < num_steps:
            started, first_step = time.time(), self.step
            # Stop at the next multiple of each interval, to save and log on time.
            until = min(num_steps, _next_multiple(first_step, save_every),
                        _next_multiple(first_step, log_every),
                        first_step + max(1, steps_per_loop))
            totals = loop(iterator, tf.constant(until - first_step))
            steps = self.step - first_step
            metrics = _metrics(totals, steps * self.accumulation
                               * self.strategy.num_replicas_in_sync)
            if not math.isfinite(metrics["loss"]):
                raise TrainingError(
                    f"The loss became {metrics['loss']} between steps {first_step} and "
                    f"{self.step}; stopped without saving. Lower the learning rate, or "
                    "use bf16 instead of fp16.")
            seconds = time.time() - started
            metrics["examples_per_second"] = (steps * self.accumulation * global_batch_size
                                              / max(seconds, 1e-9))
            metrics["learning_rate"] = float(_current_learning_rate(self.optimizer))
            with writer.as_default(step=self.step):
                for name, value in metrics.items():
                    tf.summary.scalar(name, value)
            if on_progress is not None:
                on_progress(self.step, num_steps, metrics)
            if self.step % log_every == 0 or self.step == num_steps:
                logging.info("%s: %s", progress(self.step, steps_before, num_steps,
                                                time.time() - training_started),
                             ", ".join(f"{name} {value:.4g}"
                                       for name, value in sorted(metrics.items())))
            if self.step % save_every == 0 or self.step == num_steps:
                self.checkpoints.save(self.step)
                if after_save is not None and after_save(self.step):
                    logging.info("Stopped early at step %d.", self.step)
                    break
        writer.flush()
        seconds = time.time() - training_started
        logging.info("Trained %d steps in %.1f s (%.1f examples/s, start-up included).",
                     self.step - steps_before, seconds,
                     (self.step - steps_before) * self.accumulation * global_batch_size
                     / max(seconds, 1e-9))
        return metrics

    def evaluate(self, dataset_fn: Callable, max_steps: int | None = None) -> dict:
        """Mean losses and accuracies over the evaluation data (all of it, or
        `max_steps` batches)."""
        dataset = self.strategy.distribute_datasets_from_function(dataset_fn)

        @tf.function
        def step(features):
            def replica(features):
                return self.loss_fn(self.model(features, training=False), features)
            stats = self.strategy.run(replica, args=(features,))
            return {k: self.strategy.reduce("SUM", v, axis=None) for k, v in stats.items()}

        totals, batches = None, 0
        for features in dataset:
            if max_steps is not None and batches >= max_steps:
                break
            stats = step(features)
            totals = stats if totals is None else {k: totals[k] + stats[k] for k in stats}
            batches += 1
        if totals is None:
            raise UserInputError("The evaluation data is empty.")
        replicas = self.strategy.num_replicas_in_sync
        return _metrics(totals, batches * replicas)


def write_scalars(log_dir: str, step: int, values: dict) -> None:
    """Writes the numbers among `values` as TensorBoard scalars at `step` in `log_dir`
    (e.g. the dev scores of each evaluation in `output_dir/eval`, beside the training
    scalars of `output_dir/train`)."""
    writer = tf.summary.create_file_writer(log_dir)
    with writer.as_default(step=step):
        for name, value in values.items():
            if isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
                tf.summary.scalar(name, float(value))
    writer.flush()
    writer.close()


def progress(step: int, first_step: int, num_steps: int, seconds: float) -> str:
    """Where training stands, e.g. `step 50/300 (16%), 12.3 s, ETA 1m02s`: the
    remaining steps at the pace of the `step - first_step` steps this run took in
    `seconds` (start-up included, so the first estimate is high)."""
    left = console.eta(step - first_step, num_steps - first_step, seconds)
    return (f"step {step}/{num_steps} ({100 * step // max(num_steps, 1)}%), "
            f"{seconds:.1f} s, ETA {'0s' if step >= num_steps else left}")


def predict(strategy: tf.distribute.Strategy, model: keras.Model, dataset: tf.data.Dataset,
            output: str | tuple[str, ...] = "logits",
            ) -> list[np.ndarray] | list[dict[str, np.ndarray]]:
    """`model`'s `output` for every batch of `dataset`, in the dataset's order.

    Each global batch is split over the replicas and gathered back in order, so the
    result is the same on one device, several GPUs or a TPU. The batches must divide
    evenly over the replicas (pad the data to a multiple of the batch size).

    Args:
      strategy: the strategy the model was built under.
      model: called as `model(features, training=False)`, returning a dict.
      dataset: global batches of features.
      output: which entry of the model's outputs to return, or a tuple of entries.

    Returns:
      one array per batch (batches may differ in shape, e.g. with trimmed padding);
      for a tuple of entries, one dict of arrays per batch.
    """
    options = tf.data.Options()
    # Every worker reads every batch, so that the gathered batches keep their order.
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
    distributed = strategy.experimental_distribute_dataset(dataset.with_options(options))

    step = _prediction_step(strategy, model, output)
    return [tf.nest.map_structure(lambda tensor: tensor.numpy(), step(features))
            for features in distributed]


# The traced prediction step of each model, by (strategy, output): evaluating at every
# checkpoint, or predicting after evaluating, then reuses the traces.
_PREDICTION_STEPS: "weakref.WeakKeyDictionary[keras.Model, dict]" = weakref.WeakKeyDictionary()


def _prediction_step(strategy: tf.distribute.Strategy, model: keras.Model,
                     output: str | tuple[str, ...]) -> Callable:
    """The `tf.function` that runs `model` on one distributed batch and gathers its
    `output` in batch order; one per model, strategy and output."""
    steps = _PREDICTION_STEPS.setdefault(model, {})
    key = (strategy, output)
    if key not in steps:
        @tf.function(reduce_retracing=True)  # Trimmed batches differ in length.
        def step(features):
            def replica(features):
                outputs = model(features, training=False)
                if isinstance(output, str):
                    return outputs[output]
                return {name: outputs[name] for name in output}
            return strategy.gather(strategy.run(replica, args=(features,)), axis=0)

        steps[key] = step
    return steps[key]


def _next_multiple(step: int, interval: int) -> int:
    return (step // interval + 1) * interval


def _metrics(totals: dict, loss_terms: int) -> dict:
    """Averages summed losses; turns `_correct`/`_count` sums into accuracies."""
    metrics = {}
    for name, value in totals.items():
        value = float(value.numpy())
        if name.endswith("_correct"):
            base = name.removesuffix("_correct")
            count = float(totals[base + "_count"].numpy())
            metrics[base + "_accuracy"] = value / max(count, 1e-9)
        elif not name.endswith("_count"):
            metrics[name] = value / max(1, loss_terms)
    return metrics


def _current_learning_rate(optimizer) -> float:
    inner = getattr(optimizer, "inner_optimizer", optimizer)
    rate = inner.learning_rate
    return float(rate.numpy() if hasattr(rate, "numpy") else rate)
