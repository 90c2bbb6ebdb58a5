"""SavedModels for TF Serving: raw-text and id signatures per task, in version folders."""
