"""The Barman container: configuration, scheduling, metrics and point-in-time recovery."""
