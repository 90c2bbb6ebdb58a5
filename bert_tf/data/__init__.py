"""Data: reading inputs, turning text into model features, TFRecord and tf.data I/O."""
