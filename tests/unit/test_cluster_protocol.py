"""The protocol between the images: the status answer, the endpoint, the primary rule, the plan."""
import json

import pytest

from pgcluster.cluster import endpoint
from pgcluster.cluster import plan as plans
from pgcluster.cluster.lsn import format_lsn, parse_lsn
from pgcluster.cluster.primary import find_primary
from pgcluster.cluster.status import NodeState, NodeStatus

from .helpers import answer, down, primary, standby


def test_a_status_answer_survives_the_wire():
    status = NodeStatus("pgslave1", node="node2", node_id=2, state=NodeState.RUNNING, running=True, role="standby",
                        primary="pgmaster", upstream="pgmaster", streaming=True, has_data=True, timeline=3,
                        lsn=123456789, upstream_last_seen=0.5, voters=("pgmaster", "pgslave1"))
    assert NodeStatus.from_json("10.0.0.5", status.to_json()) == status


def test_an_answer_names_its_own_host_and_ignores_what_it_does_not_know():
    text = json.dumps({"host": "pgmaster", "state": "fenced", "fenced": True, "later_field": 1, "lsn": None})
    status = NodeStatus.from_json("127.0.0.1", text)
    assert (status.host, status.state, status.fenced, status.lsn, status.reachable) == (
        "pgmaster", NodeState.FENCED, True, 0, True)


@pytest.mark.parametrize("text", ["[]", "{", '{"state": "dancing"}'])
def test_a_malformed_answer_is_refused(text):
    with pytest.raises(ValueError):
        NodeStatus.from_json("pgmaster", text)


def test_ask_keeps_the_address_while_the_host_answers_and_drops_it_when_not():
    server = endpoint.serve(0, lambda: primary("localhost"))
    port = server.server_address[1]
    try:
        found = endpoint.ask("localhost", port)
        assert found.is_running_primary and found.host == "localhost"
        assert endpoint._addresses["localhost"][0] == "127.0.0.1"
    finally:
        server.shutdown()
        server.server_close()
    assert endpoint.ask("localhost", port, timeout=0.5) == NodeStatus.unknown("localhost")
    assert "localhost" not in endpoint._addresses


@pytest.mark.parametrize("statuses, expected", [
    ([], None),
    ([standby("pgslave1"), down("pgslave3")], None),
    ([primary("pgmaster"), standby("pgslave1")], "pgmaster"),
    ([primary("pgmaster", fenced=True), standby("pgslave1")], None),
    ([primary("pgmaster"), primary("pgslave1"), standby("pgslave3", of="pgslave1")], "pgslave1"),  # followed
    ([primary("pgmaster", timeline=1), primary("pgslave1", timeline=2)], "pgslave1"),  # promoted later
    ([primary("pgmaster"), primary("pgslave1")], None),  # no clear one: nobody acts on a guess
    ([primary("pgmaster", timeline=3), primary("pgslave1", timeline=2), standby("pgslave3", of="pgslave1"),
      standby("pgslave2", of="pgslave1")], "pgmaster"),  # a thawed old primary, still named by the standbys
    ([primary("pgmaster", timeline=2), primary("pgslave1", timeline=2), standby("pgslave3", of="pgslave1")],
     "pgslave1"),  # same timeline: the one the standbys follow
])
def test_one_rule_finds_the_primary(statuses, expected):
    found = find_primary(statuses)
    assert (found.host if found else None) == expected


def test_a_node_that_is_not_running_is_never_the_primary():
    assert find_primary([answer("pgmaster", role="primary", running=False)]) is None


def test_lsn_text_and_bytes():
    assert parse_lsn("1/3000148") == (1 << 32) + 0x3000148
    assert format_lsn(parse_lsn("1/3000148")) == "1/3000148"
    assert parse_lsn("") == 0 and parse_lsn(None) == 0


PLAN = plans.Plan(id="20261122T101500Z", primary="pgmaster", hosts=("pgmaster", "pgslave1"),
                  data="20261122T101500Z/data", target="the latest state")


def test_a_plan_is_written_read_and_marked_applied(tmp_path):
    assert plans.read(tmp_path) is None
    plans.write(PLAN, tmp_path)
    (tmp_path / PLAN.id).mkdir()
    assert plans.read(tmp_path) == PLAN
    assert not PLAN.applied_by("pgslave1", tmp_path)
    PLAN.mark_applied("pgslave1", tmp_path)
    assert PLAN.applied_by("pgslave1", tmp_path) and not PLAN.applied_by("pgmaster", tmp_path)


def test_a_damaged_plan_is_no_plan(tmp_path):
    (tmp_path / plans.PLAN).write_text('{"id": "x"}')
    assert plans.read(tmp_path) is None
