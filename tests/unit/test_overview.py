"""`pgcluster status`: every member found from the seeds, lag against the primary, and the table."""
from pgcluster.cluster import overview
from pgcluster.cluster.status import NodeState, NodeStatus

MEMBERS = ("pgmaster", "pgslave1", "pgslave2")
ANSWERS = {
    "pgmaster": NodeStatus("pgmaster", node="node1", node_id=1, state=NodeState.RUNNING, running=True,
                           role="primary", primary="pgmaster", timeline=2, lsn=5000, members=MEMBERS),
    "pgslave1": NodeStatus("pgslave1", node="node2", node_id=2, state=NodeState.RUNNING, running=True,
                           role="standby", primary="pgmaster", upstream="pgmaster", streaming=True, timeline=2,
                           lsn=4000, members=MEMBERS),
    "pgslave2": NodeStatus("pgslave2", node="node3", node_id=3, state=NodeState.WAITING, reason="no upstream yet",
                           timeline=1, lsn=100),
}
ROUTER = {"router": "pgpool", "pgpool": {"has_write_node": True, "says": "pgpool sends writes to pgmaster.",
                                          "nodes": [{"id": 0, "host": "pgmaster", "status": "up", "role": "primary",
                                                     "weight": 1.0}]},
          "pgbouncer": {"primary": "pgmaster", "readers": ["pgslave1"], "paused": False,
                        "pools": [{"database": "app", "user": "postgres", "cl_active": 2, "cl_waiting": 0,
                                   "sv_active": 1, "sv_idle": 3, "pool_mode": "transaction"}]}}
BACKUP = {"check_ok": True, "backups": 2, "wal_archive_delay_seconds": 3.2,
          "last_backup": {"id": "20261201T030000", "kind": "full", "end": 1796094000.0, "timeline": 2, "size": 1}}


def fake_gather(monkeypatch):
    asked = []

    def ask_all(hosts, port, timeout):
        asked.append(sorted(hosts))
        return {h: ANSWERS[h] for h in hosts}

    monkeypatch.setattr(overview, "ask_all", ask_all)
    monkeypatch.setattr(overview, "get_json", lambda host, port, path, timeout: {
        "/router": ROUTER if host == "pgpool" else None, "/backup": BACKUP}[path])
    return overview.gather(["pgmaster", "pgslave1"], ["pgpool", "pgpool2"], ("backup", 8080), 8008), asked


def test_the_cascade_is_found_from_the_members_the_running_nodes_know(monkeypatch):
    found, asked = fake_gather(monkeypatch)
    assert asked == [["pgmaster", "pgslave1"], ["pgslave2"]]
    assert [(n["host"], n["role"], n["lag_bytes"]) for n in found["nodes"]] == [
        ("pgmaster", "primary", None), ("pgslave1", "standby", 1000), ("pgslave2", "stopped", None)]
    assert found["primary"] == "pgmaster" and found["routers"]["pgpool2"] is None


def test_the_table_shows_nodes_routers_pools_and_the_backup(monkeypatch):
    found, _ = fake_gather(monkeypatch)
    text = "\n".join(overview.render(found))
    assert "Nodes (primary: pgmaster)" in text
    assert "pgslave1     node2   standby  pgmaster     running              2    1000 B  no" in text
    assert "no upstream yet" in text
    assert "pgpool: pgpool: pgpool sends writes to pgmaster." in text
    assert "pgpool: PgBouncer writes to pgmaster, reads to pgslave1" in text
    assert "pool app/postgres (transaction): 2 clients active, 0 waiting; 1 server connections active, 3 idle" in text
    assert "pgpool2: no answer" in text
    assert "2 backups kept; last: 20261201T030000 (full, ended 2026-12-01 03:00:00 UTC, timeline 2)" in text
    assert "barman check passes; newest WAL archived 3 s ago" in text
