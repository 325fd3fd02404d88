"""Pure ticket rules: no I/O, no await."""
