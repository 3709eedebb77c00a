"""Examples of milkio-gen apps."""
