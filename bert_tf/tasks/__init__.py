"""One package per task: its readers, features, datasets, objectives, metrics and
predictions."""
