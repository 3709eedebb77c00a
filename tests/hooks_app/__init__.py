"""An app with hooks of every kind, each writing what it saw to `EVENTS`."""
