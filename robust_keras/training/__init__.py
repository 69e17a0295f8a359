"""Training: optimizers and schedules, a compiled custom loop with checkpoints, evaluators."""
