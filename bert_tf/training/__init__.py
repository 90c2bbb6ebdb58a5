"""Training shared by every task: strategies and precision, the training loop,
checkpoints that resume, Google's optimizers, and what fine-tuning adds (freezing,
early stopping)."""
