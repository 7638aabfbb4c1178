"""caic: evals."""
