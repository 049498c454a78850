"""Log lines for operators: UTC time, the node name, the level, one sentence."""
import logging
import sys
import time


def setup(name, level="info"):
    handler = logging.StreamHandler(sys.stdout)
    formatter = logging.Formatter(f"%(asctime)s {name} %(levelname)s %(message)s", "%Y-%m-%d %H:%M:%S")
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
