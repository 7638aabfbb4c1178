"""caic: training."""
