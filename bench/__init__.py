"""Benchmarks: each prints a table of figures and ratios, and writes them as JSON."""
