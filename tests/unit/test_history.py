"""The history journal: an event waits in the data directory until it is written to the primary, once."""
import json
from types import SimpleNamespace

import pytest

from pgcluster.node import history
from pgcluster.node.facts import Live
from pgcluster.node.role import Action, Decision

from .helpers import primary


def node(tmp_path, answers=None):
    cfg = SimpleNamespace(pgdata=str(tmp_path), node_name="node2", host="pgslave1", postgres_user="postgres",
                          replication_db="replication_db")
    return SimpleNamespace(cfg=cfg, fenced=False, watch=SimpleNamespace(latest=(1.0, answers or {})))


def test_an_event_waits_in_the_journal_until_the_primary_has_it(tmp_path, monkeypatch):
    journal = history.History(node(tmp_path, {"pgslave3": primary("pgslave3", timeline=3)}))
    journal.note("rejoin", "pgslave3 runs as primary on a newer timeline", 3, upstream="pgslave3")
    entry = journal.pending()[0]
    assert (entry["node"], entry["event"], entry["timeline"], entry["details"]) == (
        "node2", "rejoin", 3, {"upstream": "pgslave3"})
    written, asked = [], []
    monkeypatch.setattr(history.db, "connect", lambda host, *a, **k: asked.append(host) or SimpleNamespace(
        close=lambda: None))
    monkeypatch.setattr(history, "write", lambda conn, entries: written.extend(entries))
    standby = Live(role="standby", lsn=1, timeline=3, primary="pgmaster")
    journal.tick(standby)
    assert asked == ["pgslave3"]  # the primary the partners show, not the one stale metadata names
    assert [e["id"] for e in written] == [entry["id"]] and journal.pending() == []
    journal.tick(standby)
    assert len(written) == 1


def test_an_event_stays_while_no_primary_is_known(tmp_path, monkeypatch):
    journal = history.History(node(tmp_path))
    journal.note("fence", "no majority", 1)
    monkeypatch.setattr(history, "write", lambda conn, entries: (_ for _ in ()).throw(AssertionError("written")))
    journal.tick(Live(role="standby", lsn=1, timeline=1, primary=""))
    assert [e["event"] for e in journal.pending()] == ["fence"]
    assert json.loads((tmp_path / history.JOURNAL).read_text())["reason"] == "no majority"


@pytest.mark.parametrize("action, was_primary, was_fenced, restored, expected", [
    (Action.FENCE, True, False, False, "fence"),
    (Action.START_PRIMARY, True, True, False, "unfence"),
    (Action.START_PRIMARY, True, False, True, "recovery"),
    (Action.START_PRIMARY, True, False, False, None),  # a restart as primary
    (Action.REWIND, True, True, False, "rejoin"),
    (Action.REJOIN, True, False, False, "rejoin"),
    (Action.START_STANDBY, False, False, False, None),  # a standby's restart
    (Action.CLONE, False, False, False, None),
])
def test_each_role_taken_is_one_event_or_none(action, was_primary, was_fenced, restored, expected):
    found = history.role_event(Decision(action, "why", "pgslave3"), was_primary, was_fenced, restored)
    assert (found[0] if found else None) == expected
