"""Configuration, supervision and health checks for the postgis-cluster containers."""
