"""Log formatting: text and JSON, a child process's line, a decision's fields."""
import json
import logging
import subprocess
import sys

import pytest

from pgcluster import log


def record(name, message, *args, **extra):
    entry = logging.LogRecord(name, logging.WARNING, __file__, 1, message, args, None)
    entry.__dict__.update(extra)
    entry.created, entry.msecs = 1764547200.25, 250.0  # 2025-12-01 00:00:00.250 UTC
    return entry


def test_text_lines_carry_the_utc_time_the_node_and_the_level():
    line = log.formatter("node2").format(record("pgcluster.node.fencing", "Fencing: %s.", "no majority"))
    assert line == "2025-12-01 00:00:00 node2 WARNING Fencing: no majority."


def test_json_lines_carry_the_component_the_event_and_the_decision_fields():
    line = log.formatter("node2", "json").format(
        record("pgcluster.node.supervisor", "Decided to %s: %s.", "fence", "no majority", event="decision",
               action="fence", reason="no majority"))
    assert json.loads(line) == {"time": "2025-12-01T00:00:00.250Z", "level": "warning", "node": "node2",
                                "component": "supervisor", "event": "decision", "message": "Decided to fence: "
                                "no majority.", "action": "fence", "reason": "no majority"}


READY = "database system is ready to accept connections"
MONITORING = '[2026-12-01 10:00:00] [NOTICE] monitoring cluster primary "node1" (ID: 1)'


@pytest.mark.parametrize("name, line, fields", [
    ("pgcluster.postgres", f"postgres: [52] LOG:  {READY}",
     {"component": "postgres", "pid": 52, "severity": "LOG", "message": READY}),
    ("pgcluster.repmgrd", f"repmgrd: {MONITORING}", {"component": "repmgrd", "message": MONITORING}),
    ("pgcluster.pgpool", "pgpool: 2026-12-01 10:00:00: pid 7: LOG:  failover done",
     {"component": "pgpool", "message": "2026-12-01 10:00:00: pid 7: LOG:  failover done"}),
])
def test_a_child_process_line_becomes_one_json_object_with_its_own_fields(name, line, fields):
    entry = json.loads(log.formatter("node1", "json").format(record(name, "%s", line)))
    assert {k: entry[k] for k in fields} == fields and entry["event"] == "log"


def test_in_json_mode_what_reaches_standard_error_becomes_json_lines_too():
    script = ("import os; from pgcluster import log; log.setup('node1', 'info', 'json'); "
              "pump = log.capture_stderr(); "
              "os.write(2, b'FATAL:  unable to read data from DB node 0\\nDETAIL:  EOF\\n'); "
              "os.close(2); pump.join(10)")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30)
    entries = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(e["component"], e["message"]) for e in entries] == [
        ("stderr", "FATAL:  unable to read data from DB node 0"), ("stderr", "DETAIL:  EOF")]
    assert done.stderr == ""
