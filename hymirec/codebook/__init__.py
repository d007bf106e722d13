"""Residual item codebook: cosine residual quantisation of item vectors into coarse codes, and its comparisons."""
