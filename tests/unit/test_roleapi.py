"""The role API's answer for each node state, and the node's metrics text (its golden file: goldens.py)."""
import json
import urllib.error
import urllib.request
from dataclasses import replace
from types import SimpleNamespace

import pytest

from pgcluster.cluster import endpoint
from pgcluster.cluster.status import NodeState
from pgcluster.node import roleapi
from pgcluster.node.endpoints import NearbyRound
from pgcluster.node.facts import Live
from pgcluster.node.roleapi import Round

from .goldens import node_metrics_text
from .helpers import FakeClient, down, primary, standby

VOTERS = ("pgmaster", "pgslave1", "pgslave3")
FOLLOWED = {"pgslave1": standby("pgslave1", lsn=100), "pgslave3": standby("pgslave3", lsn=200)}
PRIMARY = primary("pgmaster", node="node1", lsn=200)
STANDBY = standby("pgslave1", node="node2", lsn=100)
WITH_PRIMARY = {"pgmaster": PRIMARY, "pgslave3": standby("pgslave3")}


def ask(path, me, answers, age=0.5, query=None):
    status, body = roleapi.answer(path, query or {}, me, Round(age, answers), VOTERS, fence_timeout=5,
                                  liveness_timeout=30)
    return status, json.loads(body)["why" if status != 400 else "error"]


@pytest.mark.parametrize("path, me, answers, age, query, status, why", [
    ("/primary", PRIMARY, FOLLOWED, 0.5, None, 200, "node1 is the primary, followed by 3 of 3"),
    ("/read-write", PRIMARY, {"pgslave1": standby("pgslave1"), "pgslave3": down("pgslave3")}, 0.5, None, 200,
     "followed by 2 of 3"),
    ("/primary", PRIMARY, {"pgslave1": down("pgslave1"), "pgslave3": down("pgslave3")}, 0.5, None, 503,
     "followed by only 1 of 3"),
    ("/primary", PRIMARY, {"pgslave1": standby("pgslave1", of="pgslave3"), "pgslave3": primary("pgslave3", timeline=2)},
     0.5, None, 503, "pgslave3 runs as primary on a newer timeline"),
    ("/primary", PRIMARY, FOLLOWED, 6.0, None, 503, "has not heard from its partners for 6.0 s"),
    # just promoted: its partners' primary failed, they stream from nobody and do not name it yet
    ("/primary", primary("pgslave3", node="node4", timeline=2),
     {"pgmaster": down("pgmaster"), "pgslave1": standby("pgslave1", streaming=False)}, 0.5, None, 200,
     "followed by 2 of 3"),
    # a standby that still streams from a running primary, or is ahead of this one, does not count
    ("/primary", primary("pgslave3", node="node4", timeline=2),
     {"pgmaster": down("pgmaster"), "pgslave1": standby("pgslave1", timeline=3, streaming=False)}, 0.5, None,
     503, "followed by only 1 of 3"),
    ("/primary", primary("pgslave3", node="node4", timeline=2),
     {"pgmaster": primary("pgmaster", timeline=1), "pgslave1": standby("pgslave1", streaming=False)}, 0.5, None,
     503, "followed by only 1 of 3"),
    ("/primary", primary("pgmaster", node="node1", fenced=True), FOLLOWED, 0.5, None, 503, "not a running, unfenced"),
    ("/primary", STANDBY, WITH_PRIMARY, 0.5, None, 503, "not a running, unfenced primary (standby, running)"),
    ("/replica", STANDBY, WITH_PRIMARY, 0.5, None, 200, "node2 streams from the primary pgmaster, 100 bytes behind"),
    ("/read-only", STANDBY, WITH_PRIMARY, 0.5, {"lag": "100"}, 200, "100 bytes behind"),
    ("/replica", STANDBY, WITH_PRIMARY, 0.5, {"lag": "99"}, 503, "100 bytes behind the primary pgmaster"),
    ("/replica", standby("pgslave1", node="node2", timeline=1, lsn=1),
     {"pgmaster": primary("pgmaster", lsn=20 << 20)}, 0.5, {"lag": "10MB"}, 503, "bytes behind"),
    ("/replica", standby("pgslave1", node="node2", lsn=1), {"pgmaster": primary("pgmaster", lsn=5 << 20)}, 0.5,
     {"lag": "10 mb"}, 200, "streams from"),
    ("/replica", standby("pgslave1", node="node2", streaming=False), WITH_PRIMARY, 0.5, None, 503,
     "does not stream from the primary pgmaster"),
    ("/replica", standby("pgslave1", node="node2", of="pgold"), WITH_PRIMARY, 0.5, None, 503, "does not stream"),
    ("/replica", STANDBY, {"pgmaster": down("pgmaster")}, 0.5, None, 503, "no primary is known"),
    ("/replica", PRIMARY, FOLLOWED, 0.5, None, 503, "node1 does not stream"),
    ("/replica", STANDBY, WITH_PRIMARY, 0.5, {"lag": "ten"}, 400, "lag='ten' is not a size: expected bytes"),
    ("/replica", STANDBY, WITH_PRIMARY, 0.5, {"lag": "5 parsecs"}, 400, "expected bytes, such as 1048576 or 10MB"),
    ("/health", STANDBY, {}, 99, None, 200, "PostgreSQL runs on node2"),
    ("/health", down("pgslave1"), {}, 0.5, None, 503, "does not run"),
    ("/liveness", STANDBY, {}, 29, None, 200, "29.0 s ago"),
    ("/liveness", STANDBY, {}, 31, None, 503, "31.0 s ago"),
    ("/readiness", PRIMARY, FOLLOWED, 0.5, None, 200, "is the primary"),
    ("/readiness", STANDBY, WITH_PRIMARY, 0.5, None, 200, "streams from"),
    ("/readiness", replace(STANDBY, state=NodeState.PROMOTING), WITH_PRIMARY, 0.5, None, 503, "does not stream"),
])
def test_the_role_api_answers_for_each_node_state(path, me, answers, age, query, status, why):
    got_status, got_why = ask(path, me, answers, age, query)
    assert (got_status, why in got_why) == (status, True), got_why


@pytest.mark.parametrize("text, size", [("0", 0), ("1048576", 1 << 20), ("10MB", 10 << 20), ("2 kB", 2048),
                                        ("1gb", 1 << 30), ("3B", 3)])
def test_lag_sizes_read_like_postgresql_settings(text, size):
    assert roleapi.parse_lag(text) == size


def test_load_balancers_get_the_status_with_head_and_options_and_a_body_with_get():
    me = {"value": PRIMARY}
    routes = roleapi.routes(lambda: me["value"], lambda: (0.0, {}), VOTERS, 5, 30)
    server = endpoint.serve(0, lambda: me["value"], get=routes)
    port = server.server_address[1]

    def status(method, path):
        request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method)
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    try:
        assert status("GET", "/health")[0] == 200
        assert status("OPTIONS", "/primary") == (503, b"")  # no round of asks yet
        assert status("HEAD", "/health") == (200, b"")
        assert json.loads(status("GET", "/replica?lag=1MB")[1])["role"] == "primary"
        assert status("GET", "/nowhere")[0] == 404
    finally:
        server.shutdown()
        server.server_close()


def test_every_node_metric_has_help_and_type_and_base_units():
    text = node_metrics_text()
    names = {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE")}
    samples = {line.split("{")[0] for line in text.splitlines() if not line.startswith("#")}
    assert samples <= names
    assert all(n.endswith("_total") for n in names if "counter" in text.split(f"# TYPE {n} ")[1].split("\n")[0])
    assert 'pgcluster_node_role{node="node2",role="standby"} 1' in text
    assert 'pgcluster_node_replication_lag_bytes{node="node2"} 4096' in text
    assert 'pgcluster_node_partners_seen{node="node2"} 2' in text


def test_a_cascaded_standby_asks_its_primary_and_upstream_at_most_once_a_second():
    client = FakeClient({"pgmaster": primary("pgmaster"), "pgslave1": standby("pgslave1")})
    node = SimpleNamespace(cfg=SimpleNamespace(host="pgslave2"), client=client, watch=SimpleNamespace(latest=(7.0, {})),
                           live=Live(role="standby", lsn=1, timeline=1, primary="pgmaster", upstream="pgslave1"))
    nearby = NearbyRound(node, every=60)
    asked_at, answers = nearby()
    assert (asked_at, sorted(answers)) == (7.0, ["pgmaster", "pgslave1"])  # the watch's time, for /liveness
    nearby()
    assert sorted(client.asked) == ["pgmaster", "pgslave1"]
