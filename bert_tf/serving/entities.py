"""Entities from tag ids in the graph, as conlleval chunks tags
(`bert_tf.tasks.ner.entity_metrics.get_chunks`), for the NER SavedModels."""

from typing import Sequence

import tensorflow as tf

from bert_tf.text.tag_schemes import split_tag

# Tag prefixes of every scheme `bert_tf.tasks.ner.conll` reads (BILOU's L and U are
# IOBES' E and S): those that start an entity, and those that continue one.
BEGIN_PREFIXES = ("B", "S", "U")
CONTINUE_PREFIXES = ("I", "E", "L")
_OPEN_PREFIXES = ("B", "I")  # An entity is still open after these.


class TagScheme:
    """How each label id chains into entities, as `get_chunks` reads tags: a `B-`/`S-`
    (`U-`) tag starts an entity; an `I-`/`E-` (`L-`) tag continues one right after a
    `B-` or `I-` tag of its type and starts one anywhere else; `O` is outside."""

    def __init__(self, labels: Sequence[str]):
        """`labels`: the tag of each label id, e.g. `["O", "B-PER", "I-PER"]`."""
        prefixes, types = zip(*(split_tag(label) for label in labels))
        self.type_names = sorted({name for name in types if name})
        self.type_ids = [self.type_names.index(name) if name else -1 for name in types]
        self.can_continue = [prefix in CONTINUE_PREFIXES for prefix in prefixes]
        self.keeps_open = [prefix in _OPEN_PREFIXES for prefix in prefixes]

    def entities(self, tag_ids: tf.RaggedTensor) -> dict[str, tf.Tensor]:
        """The entities of each row of label ids [batch, (words)]:

            entity_starts   int32 [batch, max_entities]      first word; -1 pads
            entity_ends     int32 [batch, max_entities]      one past its last word; -1 pads
            entity_types    tf.string [batch, max_entities]  e.g. "PER"; "" pads
            num_entities    int32 [batch]
        """
        tags = tag_ids.flat_values
        position = tf.ragged.range(tag_ids.row_lengths()).flat_values
        previous = tf.concat([[0], tags], axis=0)[:-1]  # Read only where position > 0.
        type_ids = tf.constant(self.type_ids, tf.int64)
        type_id = tf.gather(type_ids, tags)
        continues = ((position > 0) & tf.gather(tf.constant(self.can_continue), tags)
                     & tf.gather(tf.constant(self.keeps_open), previous)
                     & tf.equal(tf.gather(type_ids, previous), type_id))
        begins = (type_id >= 0) & ~continues
        # Every word of an entity carries the running count of entity starts.
        entity = tf.cumsum(tf.cast(begins, tf.int64)) - 1
        count = tf.reduce_sum(tf.cast(begins, tf.int64))
        inside = type_id >= 0
        ends = tf.math.unsorted_segment_max(
            tf.boolean_mask(position + 1, inside), tf.boolean_mask(entity, inside), count)
        rows = tf.boolean_mask(tag_ids.value_rowids(), begins)
        nrows = tag_ids.nrows()

        def by_row(values: tf.Tensor) -> tf.RaggedTensor:
            return tf.RaggedTensor.from_value_rowids(values, rows, nrows)

        type_names = tf.constant(self.type_names or [""], tf.string)
        starts = by_row(tf.cast(tf.boolean_mask(position, begins), tf.int32))
        return {
            "entity_starts": starts.to_tensor(-1),
            "entity_ends": by_row(tf.cast(ends, tf.int32)).to_tensor(-1),
            "entity_types": by_row(tf.gather(
                type_names, tf.boolean_mask(type_id, begins))).to_tensor(""),
            "num_entities": tf.cast(starts.row_lengths(), tf.int32),
        }
