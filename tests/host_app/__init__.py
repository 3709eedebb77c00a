"""APIs meant to be mounted into a Litestar app of the tests' own, using its state and its
dependencies (`tests/test_litestar_app.py`)."""
