"""Pre-training step speed: bert_tf beside tf-models-official and Hugging Face.

Each implementation trains the same configuration (masked LM gathered at the masked
positions + next sentence, AdamW) on the same random batch. The machine's speed
drifts between runs, so the implementations run in alternating rounds (A B C A B C
...) and the benchmark prints each round's ratios and their median.

    python benchmarks/pretraining_step_speed.py --config=small --rounds=3 --steps=5
    python benchmarks/pretraining_step_speed.py --config=base --rounds=3 --steps=2
"""

import statistics
import time

import numpy as np
import tensorflow as tf
from absl import app, flags

from bert_tf.training import optimization

from bert_tf.tasks.pretraining import objectives as pretraining_objectives

from bert_tf.training import distribution
from bert_tf.training import trainer as training
from bert_tf.configs import BertConfig
from bert_tf.modeling import BertPretrainer

FLAGS = flags.FLAGS
flags.DEFINE_enum("config", "small", ["small", "base"], "small: 4 layers, hidden 256, "
                  "batch 32; base: BERT-Base, batch 8. Both at sequence length 128.")
flags.DEFINE_integer("rounds", 3, "Alternating rounds.")
flags.DEFINE_integer("steps", 5, "Timed steps per implementation and round.")
flags.DEFINE_enum("mixed_precision", "none", ["none", "bf16"], "Precision for bert_tf "
                  "(the references run in float32).")
flags.DEFINE_bool("skip_hugging_face", False, "Leave Hugging Face out.")

CONFIGS = {
    "small": (dict(vocab_size=30522, hidden_size=256, num_hidden_layers=4,
                   num_attention_heads=4, intermediate_size=1024), 32),
    "base": (dict(vocab_size=30522), 8),
}
SEQ_LENGTH, PREDICTIONS = 128, 20


def _batch(config: BertConfig, batch_size: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        "input_ids": rng.integers(0, config.vocab_size, (batch_size, SEQ_LENGTH)).astype(np.int32),
        "input_mask": np.ones((batch_size, SEQ_LENGTH), np.int32),
        "segment_ids": (np.arange(SEQ_LENGTH) >= 64).astype(np.int32)[None].repeat(batch_size, 0),
        "masked_lm_positions": np.sort(rng.choice(np.arange(1, SEQ_LENGTH), (batch_size, PREDICTIONS))).astype(np.int32),
        "masked_lm_ids": rng.integers(0, config.vocab_size, (batch_size, PREDICTIONS)).astype(np.int32),
        "masked_lm_weights": np.ones((batch_size, PREDICTIONS), np.float32),
        "next_sentence_labels": rng.integers(0, 2, (batch_size, 1)).astype(np.int32),
    }


def ours(config: BertConfig, batch: dict):
    """bert_tf's Trainer step (the loop run_pretraining.py uses)."""
    distribution.set_precision(FLAGS.mixed_precision)
    model = BertPretrainer(config)
    optimizer = optimization.create_optimizer(1e-4, 10_000, 100)
    trainer = training.Trainer(tf.distribute.get_strategy(), model, optimizer,
                               pretraining_objectives.pretraining_losses, "/tmp/bench-ours")
    dataset = tf.data.Dataset.from_tensors(batch).repeat()
    iterator = iter(tf.distribute.get_strategy().experimental_distribute_dataset(dataset))
    loop = trainer._compile_train_loop()
    return lambda steps: loop(iterator, tf.constant(steps))["loss"].numpy()


def tf_models(config: BertConfig, batch: dict):
    """tf-models-official's BertEncoder + BertPretrainerV2 with a GradientTape step."""
    import tf_keras
    from official.nlp.modeling import layers, models, networks
    encoder = networks.BertEncoder(
        vocab_size=config.vocab_size, hidden_size=config.hidden_size,
        num_layers=config.num_hidden_layers, num_attention_heads=config.num_attention_heads,
        inner_dim=config.intermediate_size, max_sequence_length=config.max_position_embeddings,
        type_vocab_size=config.type_vocab_size,
        inner_activation=lambda x: tf_keras.activations.gelu(x, approximate=True))
    pretrainer = models.BertPretrainerV2(
        encoder_network=encoder, classification_heads=[layers.ClassificationHead(
            inner_dim=config.hidden_size, num_classes=2, name="next_sentence")])
    optimizer = tf_keras.optimizers.experimental.AdamW(1e-4, weight_decay=0.01, epsilon=1e-6,
                                                       global_clipnorm=1.0)
    inputs = {"input_word_ids": batch["input_ids"], "input_mask": batch["input_mask"],
              "input_type_ids": batch["segment_ids"],
              "masked_lm_positions": batch["masked_lm_positions"]}

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            outputs = pretrainer(inputs, training=True)
            mlm = tf.nn.sparse_softmax_cross_entropy_with_logits(
                batch["masked_lm_ids"], outputs["mlm_logits"])
            nsp = tf.nn.sparse_softmax_cross_entropy_with_logits(
                batch["next_sentence_labels"][:, 0], outputs["next_sentence"])
            loss = tf.reduce_mean(mlm) + tf.reduce_mean(nsp)
        variables = pretrainer.trainable_variables
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    def run(steps):
        for _ in range(steps):
            loss = step()
        return loss.numpy()
    return run


def hugging_face(config: BertConfig, batch: dict):
    """transformers' BertForPreTraining (PyTorch), masked-LM head on gathered positions."""
    import torch
    import transformers
    torch.set_num_threads(2)
    model = transformers.BertForPreTraining(transformers.BertConfig(
        vocab_size=config.vocab_size, hidden_size=config.hidden_size,
        num_hidden_layers=config.num_hidden_layers,
        num_attention_heads=config.num_attention_heads,
        intermediate_size=config.intermediate_size, hidden_act="gelu_new")).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, eps=1e-6, weight_decay=0.01)
    tensors = {name: torch.tensor(value) for name, value in batch.items()}

    def run(steps):
        for _ in range(steps):
            outputs = model.bert(input_ids=tensors["input_ids"].long(),
                                 attention_mask=tensors["input_mask"].long(),
                                 token_type_ids=tensors["segment_ids"].long())
            positions = tensors["masked_lm_positions"].long()
            gathered = torch.gather(outputs.last_hidden_state, 1, positions[..., None].expand(
                -1, -1, config.hidden_size))
            mlm = model.cls.predictions(gathered)
            nsp = model.cls.seq_relationship(outputs.pooler_output)
            loss = (torch.nn.functional.cross_entropy(mlm.flatten(0, 1),
                                                      tensors["masked_lm_ids"].long().flatten())
                    + torch.nn.functional.cross_entropy(
                        nsp, tensors["next_sentence_labels"].long()[:, 0]))
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
        return float(loss)
    return run


def main(argv):
    """Runs the rounds and prints the ratios."""
    del argv
    overrides, batch_size = CONFIGS[FLAGS.config]
    config = BertConfig(**overrides)
    batch = _batch(config, batch_size)
    builders = {"bert_tf": ours, "tf-models-official": tf_models}
    if not FLAGS.skip_hugging_face:
        builders["Hugging Face (PyTorch)"] = hugging_face
    runners = {}
    for name, build in builders.items():
        runners[name] = build(config, batch)
        runners[name](1)  # Warm-up: tracing, allocation.
    print(f"config {FLAGS.config}: {config.num_hidden_layers} layers, hidden "
          f"{config.hidden_size}, seq {SEQ_LENGTH}, batch {batch_size}; bert_tf precision "
          f"{FLAGS.mixed_precision}")
    ratios: dict[str, list[float]] = {name: [] for name in runners if name != "bert_tf"}
    for round_index in range(FLAGS.rounds):
        speeds = {}
        for name, run in runners.items():
            started = time.perf_counter()
            run(FLAGS.steps)
            speeds[name] = FLAGS.steps * batch_size / (time.perf_counter() - started)
        line = ", ".join(f"{name} {speed:.2f} seq/s" for name, speed in speeds.items())
        for name in ratios:
            ratios[name].append(speeds["bert_tf"] / speeds[name])
        print(f"round {round_index + 1}: {line}")
    for name, values in ratios.items():
        print(f"bert_tf / {name}: per round {', '.join(f'{v:.2f}' for v in values)}; "
              f"median {statistics.median(values):.2f}x")


if __name__ == "__main__":
    app.run(main)
