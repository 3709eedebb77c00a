"""An app of awkward names and types: what a generator must still turn into valid code."""
