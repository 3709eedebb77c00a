"""The app of the per-execute benchmark (`bench.execute`): a trivial plain API and a stream of
small chunks, with a meta model, a context class and hooks of every kind, each doing as
little as a hook can, so that what they cost is the cost of running a hook."""
