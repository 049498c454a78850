"""The failover takeover, with a fake partner watch, a fake repmgr and a fake repmgrd."""
import threading
import time
from types import SimpleNamespace

import pytest

from pgcluster.cluster.status import NodeState, NodeStatus
from pgcluster.node.facts import Live
from pgcluster.node.promotion import first_in_line
from pgcluster.node.takeover import Takeover

from .helpers import FakeClient, down, primary, standby

VOTERS = ("pgmaster", "pgslave1", "pgslave3")
CFG = SimpleNamespace(host="pgslave1", partners=VOTERS, voters=VOTERS, priority=100, fence_timeout=3.0,
                      consistency="eventual")
LIVE = Live(role="standby", lsn=300, timeline=1, primary="pgmaster", upstream="pgmaster", upstream_last_seen=20.0)


def me(lsn=300):
    return NodeStatus("pgslave1", node_id=2, priority=100, running=True, role="standby", primary="pgmaster", lsn=lsn,
                      upstream_last_seen=20.0)


class Watch:
    def __init__(self, answers):
        self.latest = (time.monotonic(), answers, True)


def takeover(answers, unseen=10.0, status=None, cfg=CFG, seen=True):
    """seen: whether the node has seen a running primary since its role began (False: the cluster starting)."""
    promoted, restarted = [], []
    node = SimpleNamespace(cfg=cfg, fenced=False, watch=Watch(answers), control=SimpleNamespace(leased=lambda: False), status=lambda: status or me(),
                           client=FakeClient(answers), repmgrd=SimpleNamespace(restart=lambda: restarted.append(1)),
                           wakeup=threading.Event())
    duty = Takeover(node, repmgr=SimpleNamespace(promote=lambda cfg: promoted.append(cfg.host)),
                    announce=lambda: promoted.append("announced"), withdraw=lambda: promoted.append("withdrawn"))
    duty.primary_seen_at = time.monotonic() - unseen
    duty.seen_primary = seen
    duty.promoted, duty.restarted = promoted, restarted
    return duty


GONE = {"pgmaster": down("pgmaster"), "pgslave3": standby("pgslave3", lsn=300, node_id=4, priority=100)}


def test_the_candidate_promotes_itself_once_no_primary_answered_for_long():
    duty = takeover(GONE)
    duty.tick(LIVE)
    assert duty.promoted == ["announced", "pgslave1"] and duty.restarted == [1]


@pytest.mark.parametrize("unseen, promotes", [(10.0, False), (29.0, False), (31.0, True)])
def test_a_starting_cluster_gives_the_former_primary_longer_to_answer(unseen, promotes):
    """After `docker stack rm` and deploy, Swarm's DNS showed the former primary only after its first health
    check, and a standby that had promoted itself 11 s after the start made it rewind."""
    duty = takeover(GONE, unseen, seen=False)
    duty.tick(Live(**{**LIVE.__dict__, "upstream_last_seen": -1.0}))  # repmgrd never reached it either
    assert ("pgslave1" in duty.promoted) is promotes


def test_no_takeover_when_the_old_primary_answers_as_resuming_after_the_announcement():
    duty = takeover(GONE)
    duty.node.client.answers["pgmaster"] = NodeStatus("pgmaster", state=NodeState.RESUMING)
    duty.tick(LIVE)
    assert duty.promoted == ["announced", "withdrawn"]


@pytest.mark.parametrize("answers, unseen, live", [
    ({**GONE, "pgmaster": primary("pgmaster")}, 10.0, LIVE),  # the primary answers
    (GONE, 4.0, LIVE),                                          # not yet FENCE_TIMEOUT + 2 s
    (GONE, 10.0, Live(**{**LIVE.__dict__, "upstream_last_seen": 1.0})),  # repmgrd reached the primary a second ago
    ({**GONE, "pgslave3": standby("pgslave3", lsn=400, node_id=4, priority=100)}, 10.0, LIVE),  # pgslave3 is ahead
    ({"pgmaster": down("pgmaster"), "pgslave3": down("pgslave3")}, 10.0, LIVE),  # a minority
])
def test_no_takeover(answers, unseen, live):
    duty = takeover(answers, unseen)
    duty.tick(live)
    assert "pgslave1" not in duty.promoted


def test_the_election_order_is_repmgrs():
    a = NodeStatus("a", node_id=1, priority=100, lsn=5, running=True, role="standby")
    b = NodeStatus("b", node_id=2, priority=200, lsn=5, running=True, role="standby")
    c = NodeStatus("c", node_id=3, priority=0, lsn=9, running=True, role="standby")  # never promoted
    assert first_in_line(a, {"b": b, "c": c}) == "b"
    assert first_in_line(a, {"b": NodeStatus("b", node_id=2, priority=100, lsn=5, running=True, role="standby")}) == "a"


def test_no_second_node_promotes_while_one_is_being_promoted():
    """A standby that announced its promotion shows PROMOTING until it answers as primary; a partner that saw
    it only as one more standby (its status a round old) promoted itself beside it."""
    being = NodeStatus("pgslave3", role="standby", running=True, primary="pgmaster", lsn=50, node_id=4, priority=100,
                       state=NodeState.PROMOTING)
    duty = takeover({"pgmaster": down("pgmaster"), "pgslave3": being})
    duty.tick(LIVE)
    assert duty.promoted == []
