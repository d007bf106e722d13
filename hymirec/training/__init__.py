"""Training: the shared loop, losses, experiment tracking and multi-process (torchrun) helpers."""
