"""APIs that let tests watch the server side: when an action's `finally` ran, what it saw."""
