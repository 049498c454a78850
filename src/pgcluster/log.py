"""Log lines for operators: UTC time, the node name, the level, one sentence.

LOG_FORMAT=text (the default) writes `time node LEVEL sentence`; LOG_FORMAT=json one JSON object a line
with time, level, node, component (the module, or the child process: postgres, repmgrd, pgpool,
pgbouncer), event and the sentence, plus whatever fields the call passed as `extra` (a decision's
action and reason). A child process's line is parsed into its own fields where it has a known form.
"""
import json
import logging
import os
import re
import sys
import threading
import time

# Record attributes every LogRecord has; anything else came from `extra` and goes into the JSON object.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "taskName"}
# What proc.forward_output logs: "label: line"; PostgreSQL's lines start with log_line_prefix '[%p] '.
_CHILD = re.compile(r"(?P<component>[a-z]+): (?P<line>.*)", re.S)
_POSTGRES = re.compile(r"\[(?P<pid>\d+)\] (?P<severity>[A-Z]+\d?):\s+(?P<text>.*)", re.S)


class JsonFormatter(logging.Formatter):
    def __init__(self, node):
        super().__init__()
        self.node = node

    def format(self, record):
        message = record.getMessage()
        component = record.name.rsplit(".", 1)[-1]
        entry = {"time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) +
                 f".{int(record.msecs):03d}Z", "level": record.levelname.lower(), "node": self.node,
                 "component": component, "event": getattr(record, "event", "log")}
        child = _CHILD.fullmatch(message) if record.name.startswith("pgcluster.") and \
            record.name.count(".") == 1 else None
        if child and child.group("component") == component:
            message = child.group("line")
            postgres = _POSTGRES.fullmatch(message)
            if postgres:
                entry.update(pid=int(postgres.group("pid")), severity=postgres.group("severity"))
                message = postgres.group("text")
        entry["message"] = message
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD and k != "event"})
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def formatter(name, fmt="text"):
    if fmt == "json":
        return JsonFormatter(name)
    text = logging.Formatter(f"%(asctime)s {name} %(levelname)s %(message)s", "%Y-%m-%d %H:%M:%S")
    text.converter = time.gmtime
    return text


def setup(name, level="info", fmt="text"):
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(formatter(name, fmt))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


def capture_stderr():
    """Send what reaches this process's standard error (file descriptor 2) through the log, one record a
    line: in JSON mode nothing else may reach the container's output. libpq prints an error that arrives
    while a connection is being made (a pgpool child's FATAL during a failover) there, with no prefix.
    Returns the thread that forwards the lines; it ends once file descriptor 2 is closed."""
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)
    sys.stderr = os.fdopen(2, "w", buffering=1, closefd=False)
    stray = logging.getLogger("pgcluster.stderr")

    def pump():
        with os.fdopen(read_end, encoding="utf-8", errors="replace") as lines:
            for line in lines:
                if line.strip():
                    stray.warning("%s", line.rstrip())

    thread = threading.Thread(target=pump, name="stderr", daemon=True)
    thread.start()
    return thread
