"""The switchover's checks and the control channel's authentication, without containers."""
import threading
from dataclasses import replace
from types import SimpleNamespace

import pytest

from pgcluster.cluster import control
from pgcluster.cluster.status import NodeState
from pgcluster.node.control import Control
from pgcluster.switchover import SwitchoverError, choose

from .helpers import down, primary, standby

VOTERS = ("pgmaster", "pgslave1", "pgslave3")


def cluster(**changes):
    statuses = {"pgmaster": primary("pgmaster", voters=VOTERS),
                "pgslave1": standby("pgslave1", priority=100, node_id=2, lsn=200),
                "pgslave3": standby("pgslave3", priority=200, node_id=4, lsn=200),
                "pgslave2": standby("pgslave2", of="pgmaster", upstream="pgslave1", priority=100, node_id=3)}
    statuses.update(changes)
    return statuses


def test_the_default_target_is_the_one_repmgr_would_elect():
    assert choose(cluster())[1].host == "pgslave3"


@pytest.mark.parametrize("to, changes, refusal", [
    ("pgslave2", {}, "pgslave2 is not a first-level standby"),
    ("pgslave1", {"pgslave1": standby("pgslave1", priority=0)}, "pgslave1 has NODE_PRIORITY 0"),
    ("pgslave1", {"pgslave1": down("pgslave1")}, "pgslave1 does not answer"),
    ("pgslave1", {"pgslave1": standby("pgslave1", priority=100, streaming=False)}, "pgslave1 does not stream"),
    ("pgmaster", {}, "pgmaster is the primary already"),
    ("pgslave1", {"pgmaster": primary("pgmaster", fenced=True)}, "there is no single running primary"),
    ("pgslave1", {"pgslave3": replace(standby("pgslave3"), state=NodeState.PROMOTING)},
     "pgslave3 is in the middle of a failover or switchover"),
])
def test_refusals_name_the_reason(to, changes, refusal):
    with pytest.raises(SwitchoverError) as raised:
        choose(cluster(**changes), to)
    assert str(raised.value).startswith(refusal) and str(raised.value).endswith("not switching over.")


def test_a_control_request_without_the_secret_is_refused_and_logged(caplog):
    handle = control.route("s3cret", {"lease": lambda body: (200, {})}, "node1")[control.PATH]
    assert handle({"action": "lease"}, {"Authorization": "Bearer s3cret"}, "10.0.0.9")[0] == 200
    assert handle({"action": "lease"}, {"Authorization": "Bearer guess"}, "10.0.0.9")[0] == 401
    assert handle({"action": "lease"}, {}, "10.0.0.9")[0] == 401
    assert "Refused a control request (lease) from 10.0.0.9 on node1: it lacks the control secret." in caplog.text
    assert control.route("", {"lease": lambda body: (200, {})}, "n")[control.PATH](
        {"action": "lease"}, {"Authorization": "Bearer "}, "x")[0] == 401


def node_control():
    node = SimpleNamespace(cfg=SimpleNamespace(control_password="s", node_name="node1"), wakeup=threading.Event(),
                           local=lambda: (_ for _ in ()).throw(__import__("psycopg2").OperationalError("down")))
    return Control(node)


def test_one_switchover_holds_the_lock_at_a_time_and_it_expires():
    c = node_control()
    assert c.take_lease({"owner": "a", "seconds": 60})[0] == 200
    assert c.take_lease({"owner": "b", "seconds": 60}) == (409, {"error": "another switchover (a) holds the lock"})
    assert c.leased() and c.owns("a") and not c.owns("b")
    c.give_lease({"owner": "a"})
    assert c.take_lease({"owner": "b", "seconds": 0})[0] == 200
    assert not c.leased()  # expired at once


def test_steps_need_the_lease():
    c = node_control()
    assert c.queued("demote")({"owner": "nobody"})[0] == 409
