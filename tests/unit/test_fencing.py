import signal
import threading
import time
from dataclasses import replace
from types import SimpleNamespace

import pytest

from pgcluster.cluster.status import NodeState, NodeStatus
from pgcluster.errors import Redecide
from pgcluster.node.facts import Live
from pgcluster.node.fencing import Fencing, rival_with_precedence
from pgcluster.node.partners import PartnerWatch
from pgcluster.node.promotion import check_promotion, validate
from pgcluster.node.role import Action
from pgcluster.node.supervisor import Supervisor
from pgcluster.node.sync import synchronous_names

from .helpers import FakeClient, answer, down, primary, standby

VOTERS = ("pgmaster", "pgslave1", "pgslave3")


@pytest.mark.parametrize("answers, expected", [
    ({"pgslave1": standby("pgslave1"), "pgslave3": standby("pgslave3")}, None),
    ({"pgslave1": primary("pgslave1", timeline=2), "pgslave3": down("pgslave3")}, "pgslave1"),
    ({"pgslave1": primary("pgslave1", timeline=1)}, None),          # same timeline, listed after me
    ({"pgslave1": primary("pgslave1", timeline=2, fenced=True)}, None),
    ({"pgslave1": answer("pgslave1", running=False, timeline=2)}, None),
])
def test_rival_with_precedence(answers, expected):
    assert rival_with_precedence("pgmaster", 1, answers, VOTERS) == expected


def test_rival_with_equal_timeline_listed_first_wins():
    assert rival_with_precedence("pgslave3", 2, {"pgslave1": primary("pgslave1", timeline=2)}, VOTERS) == "pgslave1"


ME = NodeStatus("pgslave1", role="standby", running=True, primary="pgmaster", lsn=100, upstream_last_seen=1)


@pytest.mark.parametrize("answers, mode, allowed, reason, wait", [
    ({"pgmaster": down("pgmaster"), "pgslave3": standby("pgslave3")}, "eventual", True,
     "pgmaster does not answer and 2 of 3 partners answer; promoting once 4 s have passed since it was last seen", 3.0),
    ({"pgmaster": primary("pgmaster"), "pgslave3": standby("pgslave3")}, "eventual", False,
     "pgmaster still answers as a running primary, so it has not failed; not promoting", 0.0),
    ({"pgmaster": answer("pgmaster", primary="", fenced=True), "pgslave3": standby("pgslave3")}, "eventual", True,
     "pgmaster has fenced itself and 3 of 3 partners answer; promoting once 4 s have passed since it was last seen",
     3.0),
    ({"pgmaster": down("pgmaster"), "pgslave3": down("pgslave3")}, "eventual", False,
     "only 1 of 3 partners answer; a standby in a minority is never promoted", 0.0),
    ({"pgmaster": down("pgmaster"), "pgslave3": answer("pgslave3", running=False)}, "strict", False,
     "strict mode: pgslave3 does not answer and may hold acknowledged commits this node lacks; waiting for it "
     "rather than losing them", 0.0),
    ({"pgmaster": down("pgmaster"), "pgslave3": standby("pgslave3", lsn=200)}, "strict", False,
     "strict mode: pgslave3 has received more WAL than this node", 0.0),
    ({"pgmaster": down("pgmaster"), "pgslave3": standby("pgslave3", lsn=100)}, "strict", True,
     "pgmaster does not answer and 2 of 3 partners answer; promoting once 4 s have passed since it was last seen", 3.0),
    ({"pgmaster": down("pgmaster"), "pgslave3": replace(standby("pgslave3", lsn=50), state=NodeState.PROMOTING)},
     "eventual", False, "pgslave3 is being promoted; not promoting a second node", 0.0),
])
def test_check_promotion(answers, mode, allowed, reason, wait):
    assert check_promotion(ME, answers, VOTERS, mode, 3.0) == (allowed, reason, wait)


def test_promotion_waits_nothing_once_the_fence_time_has_passed():
    me = NodeStatus("pgslave1", role="standby", running=True, primary="pgmaster", upstream_last_seen=9)
    assert check_promotion(me, {"pgmaster": down("pgmaster"), "pgslave3": standby("pgslave3")}, VOTERS,
                           "eventual", 3.0)[2] == 0.0


def test_validate_waits_then_refuses_when_the_old_primary_is_back(tmp_path, monkeypatch):
    from pgcluster.node import paths

    monkeypatch.setattr(paths, "PROMOTING_MARKER", str(tmp_path / "promoting"))
    client = FakeClient({"127.0.0.1": ME, "pgslave3": standby("pgslave3")})
    slept = []

    def sleep(seconds):
        slept.append(seconds)
        client.answers["pgmaster"] = primary("pgmaster")  # it answered again during the wait

    assert validate("pgslave1", VOTERS, 8008, 3.0, "eventual", client=client, sleep=sleep) == (
        False, "pgmaster answers as a running primary again; not promoting")
    assert slept == [3.0]


def test_validate_announces_the_promotion_then_refuses_when_the_old_primary_is_resuming(tmp_path, monkeypatch):
    from pgcluster.cluster.status import NodeState
    from pgcluster.node import paths, promotion

    monkeypatch.setattr(paths, "PROMOTING_MARKER", str(tmp_path / "promoting"))
    me = NodeStatus("pgslave1", role="standby", running=True, primary="pgmaster", lsn=100, upstream_last_seen=9)
    client = FakeClient({"127.0.0.1": me, "pgslave3": standby("pgslave3"), "pgmaster": down("pgmaster")})
    assert validate("pgslave1", VOTERS, 8008, 3.0, "eventual", client=client)[0]
    assert promotion.announced()
    client.answers["pgmaster"] = NodeStatus("pgmaster", state=NodeState.RESUMING)
    assert validate("pgslave1", VOTERS, 8008, 3.0, "eventual", client=client) == (
        False, "pgmaster is resuming as primary; not promoting")


def test_validate_refuses_without_its_own_status():
    assert validate("pgslave1", VOTERS, 8008, 3.0, "eventual", client=FakeClient()) == (
        False, "this node's own status endpoint does not answer")


@pytest.mark.parametrize("mode, connected, expected", [
    ("eventual", True, ""),
    ("strict", True, 'ANY 1 ("node2", "node4")'),
    ("strict", False, 'ANY 1 ("node2", "node4")'),
    ("partially_strict", True, 'ANY 1 ("node2", "node4")'),
    ("partially_strict", False, ""),
])
def test_synchronous_names(mode, connected, expected):
    assert synchronous_names(mode, ["node4", "node2"], connected) == expected


def test_synchronous_backup_waits_for_barman_whatever_the_standbys():
    assert synchronous_names("eventual", ["node2"], False, backup=True) == '"barman_receive_wal"'


def test_no_other_nodes_means_no_synchronous_standby():
    assert synchronous_names("strict", [], True) == ""


# --- the fencing tick reads what the partner watch last saw ---------------------------------------
PRIMARY = Live(role="primary", lsn=100, timeline=1, primary="pgmaster")


class Quiet:
    """A partner watch whose thread never runs: the tests set what it saw."""

    def __init__(self):
        self.latest, self.majority_at, self.longest_gap = (0.0, {}, False), 0.0, (0.0, 0.0)


def fencing_for(since_ago, fenced=False):
    cfg = SimpleNamespace(host="pgmaster", voters=VOTERS, fence_timeout=3.0, status_port=8008)
    duty = Fencing(SimpleNamespace(cfg=cfg, fenced=fenced, watch=Quiet()))
    duty.since = time.monotonic() - since_ago
    return duty


def test_a_late_tick_does_not_fence_when_the_watch_saw_a_majority_recently():
    duty = fencing_for(since_ago=60)
    duty.watch.latest = (time.monotonic() - 0.5, {"pgslave1": standby("pgslave1"), "pgslave3": down("pgslave3")}, True)
    duty.watch.majority_at = time.monotonic() - 0.5
    duty.tick(PRIMARY)


def test_the_primary_fences_when_no_round_saw_a_majority_for_the_fence_timeout():
    duty = fencing_for(since_ago=60)
    duty.watch.latest = (time.monotonic() - 0.5, {"pgslave1": down("pgslave1"), "pgslave3": down("pgslave3")}, False)
    duty.watch.majority_at = time.monotonic() - 3.5
    with pytest.raises(Redecide) as raised:
        duty.tick(PRIMARY)
    assert raised.value.urgent and raised.value.decision.action is Action.FENCE
    assert "reached 1 of 3" in raised.value.decision.reason


def test_a_primary_that_was_frozen_fences_although_the_first_round_after_the_thaw_saw_a_majority():
    """The watch thread and the loop thaw together; when the watch's round comes first, the freeze still counts."""
    duty = fencing_for(since_ago=60)
    now = time.monotonic()
    duty.watch.latest = (now - 0.1, {"pgslave1": standby("pgslave1"), "pgslave3": standby("pgslave3")}, True)
    duty.watch.majority_at, duty.watch.longest_gap = now - 0.1, (now - 0.1, 9.2)
    with pytest.raises(Redecide) as raised:
        duty.tick(PRIMARY)
    assert raised.value.urgent and raised.value.decision.action is Action.FENCE
    assert "no majority of its partners for 9.2 s" in raised.value.decision.reason


def test_a_new_primary_has_the_fence_timeout_before_it_must_have_seen_a_majority():
    fencing_for(since_ago=1).tick(PRIMARY)


def test_a_rival_seen_in_a_fresh_round_makes_the_primary_step_down():
    duty = fencing_for(since_ago=10)
    duty.watch.latest = (time.monotonic(), {"pgslave1": primary("pgslave1", timeline=2)}, True)
    duty.watch.majority_at = time.monotonic()
    with pytest.raises(Redecide) as raised:
        duty.tick(PRIMARY)
    assert raised.value.urgent and raised.value.decision is None


def test_answers_from_before_this_node_became_primary_are_ignored():
    duty = fencing_for(since_ago=1)
    duty.watch.latest = (time.monotonic() - 2, {"pgslave1": primary("pgslave1", timeline=2)}, True)
    duty.tick(PRIMARY)  # no step-down: that round was asked while this node was a standby


def test_a_fenced_node_decides_again_only_on_a_majority_seen_after_the_fence():
    duty = fencing_for(since_ago=5, fenced=True)
    duty.watch.latest = (time.monotonic() - 6, {"pgslave1": standby("pgslave1"), "pgslave3": standby("pgslave3")}, True)
    duty.tick(None)
    duty.watch.latest = (time.monotonic(), {"pgslave1": standby("pgslave1"), "pgslave3": down("pgslave3")}, True)
    with pytest.raises(Redecide) as raised:
        duty.tick(None)
    assert raised.value.decision is None


def test_a_round_records_when_it_saw_a_majority():
    client = FakeClient({"pgslave1": standby("pgslave1")})
    cfg = SimpleNamespace(host="pgmaster", voters=VOTERS, fence_timeout=3.0)
    watch = PartnerWatch(cfg, client, threading.Event())
    watch.ask_round(42.0)
    assert watch.latest[2] and watch.majority_at == 42.0
    client.answers.clear()
    watch.ask_round(43.0)
    assert not watch.latest[2] and watch.majority_at == 42.0
    assert watch.longest_gap == (0.0, 0.0)
    client.answers["pgslave1"] = standby("pgslave1")
    watch.ask_round(52.0)  # a freeze of about 10 s
    assert watch.majority_at == 52.0 and watch.longest_gap == (52.0, 10.0)


def test_the_watch_reports_a_freeze_the_moment_it_wakes_and_only_a_freeze():
    frozen = []
    cfg = SimpleNamespace(host="pgmaster", voters=VOTERS, fence_timeout=3.0)
    watch = PartnerWatch(cfg, FakeClient({}), threading.Event(), on_freeze=frozen.append)
    watch.check_frozen(40.0)  # the first round
    watch.check_frozen(41.1)
    watch.check_frozen(43.5)  # a late round, but within FENCE_TIMEOUT of the one before it
    assert frozen == []
    watch.check_frozen(52.5)  # nine seconds after the round before it: no round can have seen a majority
    assert frozen == [9.0]
    watch.check_frozen(53.5)
    assert frozen == [9.0]


def supervisor_for(role, state=NodeState.RUNNING):
    signals = []
    node = SimpleNamespace(state=state, live=Live(role=role, lsn=1, timeline=1, primary="pgmaster"),
                           server=SimpleNamespace(signal=signals.append), wakeup=threading.Event(), frozen_for=None)
    return node, signals


def test_a_thawed_primary_stops_postgresql_at_once_and_the_loop_then_fences():
    node, signals = supervisor_for("primary")
    Supervisor.on_freeze(node, 9.1)
    assert signals == [signal.SIGQUIT] and node.wakeup.is_set()
    with pytest.raises(Redecide) as raised:
        Supervisor.fence_if_frozen(node)
    assert raised.value.urgent and raised.value.decision.action is Action.FENCE
    assert "frozen for 9.1 s" in raised.value.decision.reason
    Supervisor.fence_if_frozen(node)  # once


@pytest.mark.parametrize("role, state", [("standby", NodeState.RUNNING), ("primary", NodeState.FENCED),
                                         ("primary", NodeState.STARTING)])
def test_a_freeze_stops_nothing_but_a_running_primary(role, state):
    node, signals = supervisor_for(role, state)
    Supervisor.on_freeze(node, 9.1)
    Supervisor.fence_if_frozen(node)
    assert signals == [] and node.frozen_for is None


@pytest.mark.parametrize("sibling, allowed", [
    (standby("pgslave3", lsn=150, priority=100, node_id=4), False),  # further ahead
    (standby("pgslave3", lsn=100, priority=200, node_id=4), False),  # as far, higher priority
    (standby("pgslave3", lsn=100, priority=100, node_id=4), True),   # as far, same priority, higher node id
    (standby("pgslave3", lsn=150, priority=0, node_id=4), True),     # never promoted
])
def test_only_the_first_in_repmgrs_election_order_is_promoted(sibling, allowed):
    me = NodeStatus("pgslave1", node_id=2, priority=100, role="standby", running=True, primary="pgmaster", lsn=100,
                    upstream_last_seen=9)
    verdict, reason, _ = check_promotion(me, {"pgmaster": down("pgmaster"), "pgslave3": sibling}, VOTERS,
                                         "eventual", 3.0)
    assert verdict is allowed, reason
    if not allowed:
        assert reason == "pgslave3 comes first in the election order (WAL received, priority, node id)"
