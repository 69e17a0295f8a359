"""Data: clean sources, transforms, tf.data pipelines and adversarial TFRecord datasets."""
