"""The classification tf.data input: evaluation keeps every example once, in order,
with padding marked; training order is seeded, reshuffled each epoch, resumable and
sharded; padding trimmed per batch; a long text's windows sampled one per epoch."""

import numpy as np
import tensorflow as tf

from bert_tf.tasks.classification import dataset as classification_dataset


def _features(count: int, max_seq_length: int = 6) -> dict[str, np.ndarray]:
    """Row i has input_ids[i, 0] == i + 1 and i % 4 + 1 real tokens."""
    lengths = np.arange(count) % 4 + 1
    mask = (np.arange(max_seq_length)[None, :] < lengths[:, None]).astype(np.int32)
    ids = mask * (np.arange(count)[:, None] + 1)
    return {"input_ids": ids.astype(np.int32), "input_mask": mask,
            "segment_ids": np.zeros_like(mask),
            "label_ids": (np.arange(count) % 2).astype(np.int32)}


def _batches(dataset, limit=None):
    return [{name: value.numpy() for name, value in batch.items()}
            for batch in dataset.take(limit if limit is not None else -1)]


def test_eval_keeps_every_example_once_in_order_and_marks_padding():
    features = _features(5)
    batches = _batches(classification_dataset.classification_dataset(
        features, batch_size=2, is_training=False))
    assert [len(batch["label_ids"]) for batch in batches] == [2, 2, 2]
    assert set(batches[0]) == {"input_ids", "input_mask", "segment_ids", "label_ids",
                               "is_real_example"}
    ids = np.concatenate([batch["input_ids"] for batch in batches])
    np.testing.assert_array_equal(ids[:5], features["input_ids"])
    np.testing.assert_array_equal(ids[5], np.zeros(6))
    is_real = np.concatenate([batch["is_real_example"] for batch in batches])
    np.testing.assert_array_equal(is_real, [1, 1, 1, 1, 1, 0])
    assert batches[0]["is_real_example"].dtype == np.float32


def test_eval_without_drop_remainder_has_no_padding():
    batches = _batches(classification_dataset.classification_dataset(
        _features(5), batch_size=2, is_training=False, drop_remainder=False))
    assert [len(batch["label_ids"]) for batch in batches] == [2, 2, 1]
    assert all(batch["is_real_example"].all() for batch in batches)


def test_eval_over_two_pipelines_covers_every_example_once():
    features = _features(5)
    seen = []
    for pipeline in range(2):
        context = tf.distribute.InputContext(num_input_pipelines=2,
                                             input_pipeline_id=pipeline)
        batches = _batches(classification_dataset.classification_dataset(
            features, batch_size=2, is_training=False, input_context=context))
        assert len(batches) == 2  # 5 examples padded to 8: two full batches each.
        for batch in batches:
            seen += [int(row[0]) for row, real in zip(batch["input_ids"],
                                                     batch["is_real_example"]) if real]
    assert sorted(seen) == [1, 2, 3, 4, 5]


def _training_order(seed, count=8, batch_size=4, batches=6, context=None, skip=0):
    # A resumed run skips the batches it trained on, as `Trainer.train` does.
    dataset = classification_dataset.classification_dataset(
        _features(count), batch_size=batch_size, is_training=True, seed=seed,
        input_context=context).skip(skip)
    return [batch["input_ids"][:, 0].tolist() for batch in _batches(dataset, batches)]


def test_training_order_is_reproducible_for_a_seed_and_covers_each_epoch():
    order = _training_order(seed=7)
    assert order == _training_order(seed=7)
    assert order != _training_order(seed=8)
    for epoch in range(3):  # 8 examples, 2 batches per epoch: each a permutation.
        assert sorted(order[2 * epoch] + order[2 * epoch + 1]) == list(range(1, 9))
    assert order[0:2] != order[2:4]  # Reshuffled every epoch.


def test_resumed_training_skips_the_batches_seen():
    assert _training_order(seed=7, batches=3, skip=3) == _training_order(seed=7)[3:]


def test_training_shards_by_input_pipeline():
    context = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=1)
    order = _training_order(seed=3, batch_size=2, batches=2, context=context)
    assert sorted(order[0] + order[1]) == [2, 4, 6, 8]


def test_trim_padding_cuts_to_the_longest_sequence_of_each_batch():
    features = _features(6)  # lengths 1, 2, 3, 4, 1, 2
    dataset = classification_dataset.classification_dataset(
        features, batch_size=2, is_training=False, trim_padding=True)
    assert dataset.element_spec["input_ids"].shape.as_list() == [2, None]
    batches = _batches(dataset)
    assert [batch["input_ids"].shape[1] for batch in batches] == [2, 4, 2]
    np.testing.assert_array_equal(batches[1]["input_mask"], features["input_mask"][2:4, :4])


def test_sampled_windows_take_one_row_of_each_example_per_epoch():
    features = _features(9)
    # Examples of 3, 1, 4 and 1 rows.
    features["example_index"] = np.array([0, 0, 0, 1, 2, 2, 2, 2, 3], np.int32)

    def epochs(seed):
        batches = _batches(classification_dataset.classification_dataset(
            features, batch_size=2, is_training=True, seed=seed, sample_windows=True), 40)
        rows = np.concatenate([batch["input_ids"][:, 0] for batch in batches]) - 1
        return rows.reshape(20, 4)

    drawn = epochs(seed=7)
    for epoch in drawn:
        assert sorted(features["example_index"][epoch]) == [0, 1, 2, 3]
    assert set(drawn.ravel()) == set(range(9))  # Every window is drawn sometime.
    np.testing.assert_array_equal(epochs(seed=7), drawn)
    assert not np.array_equal(epochs(seed=8), drawn)
