"""caic: compiler."""
