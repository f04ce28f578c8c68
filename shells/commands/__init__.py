"""One module per group of `ra` sub-commands; each exposes `run(args) -> int`."""
