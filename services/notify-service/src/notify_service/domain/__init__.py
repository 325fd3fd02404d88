"""Pure notification rules: no I/O."""
