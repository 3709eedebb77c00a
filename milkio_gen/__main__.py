"""`python -m milkio_gen`: the `milkio-gen` command."""

from .cli import main

main()
