"""The app of the stream benchmarks: streams of small typed chunks, as dicts and as models."""
