"""Experiments: seeds, paired comparisons, model selection, snapshots and publishing runs to results/."""
