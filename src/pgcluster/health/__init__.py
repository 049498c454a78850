"""Health checks behind healthchecks/: each returns (healthy, sentence)."""
