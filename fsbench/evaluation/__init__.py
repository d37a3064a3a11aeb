"""Fit, embed, classify, score: the runner, the classifier rules (batched by fastpath/kernels) and metrics."""
