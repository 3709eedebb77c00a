"""The app of the fan-out benchmark: one channel, a publisher and a subscriber."""
