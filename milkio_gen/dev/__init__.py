"""`milkio-gen dev`: serve the app and, on every save in its package, build it again and
restart the server. The loop is `loop.DevLoop`; this package imports nothing, so that a
spare server process (`spare`) pays for no more than it needs."""
