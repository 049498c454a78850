"""Standby duties: the tree's shape restored, a stuck standby following or rewound, with fakes."""
import threading
import time
from types import SimpleNamespace

import pytest

from pgcluster.errors import CommandError, Redecide
from pgcluster.node.facts import Live
from pgcluster.node.healing import STUCK_AFTER, Healing, running_primary
from pgcluster.node.role import Action

from .helpers import FakeClient, down, primary, standby

FIRST_LEVEL = SimpleNamespace(host="pgslave1", partners=("pgmaster", "pgslave1", "pgslave3"),
                              upstream_host="pgmaster")
CASCADE = SimpleNamespace(host="pgslave2", partners=(), upstream_host="pgslave1")


class FakeRepmgr:
    def __init__(self, fail=False):
        self.follows, self.fail = [], fail

    def follow(self, cfg, node_id):
        if self.fail:
            raise CommandError("repmgr standby follow exited with 1: this node cannot attach")
        self.follows.append(node_id)


class FakeRepmgrd:
    def __init__(self):
        self.events = []

    def stop(self, grace=2):
        self.events.append("stop")

    def start(self):
        self.events.append("start")

    def restart(self):
        self.events.append("restart")


def healing(cfg, answers, fail=False, round=None, probed=None):
    """The duty on a node whose client gets answers, whose partner watch's latest round holds round and whose
    live probe reads probed."""
    node = SimpleNamespace(cfg=cfg, client=FakeClient(answers), fenced=False, control=SimpleNamespace(leased=lambda: False),
                           repmgrd=FakeRepmgrd(), watch=SimpleNamespace(latest=(0.0, round or {}, True)),
                           probe=SimpleNamespace(read=lambda: probed), live=probed, wakeup=threading.Event())
    duty = Healing(node, repmgr=FakeRepmgr(fail))
    duty.repmgrd = node.repmgrd
    return duty


def live(upstream="pgmaster", streaming=True, timeline=1, primary="pgmaster"):
    return Live(role="standby", lsn=100, timeline=timeline, primary=primary, upstream=upstream, streaming=streaming)


ANSWERS = {"pgmaster": primary("pgmaster", node_id=1), "pgslave3": standby("pgslave3", node_id=4)}


def test_a_first_level_standby_under_another_standby_returns_to_the_primary():
    duty = healing(FIRST_LEVEL, ANSWERS)
    duty.tick(live(upstream="pgslave3"))
    assert duty.repmgr.follows == [1] and duty.repmgrd.events == ["restart"]


def test_a_healthy_standby_is_left_alone():
    duty = healing(FIRST_LEVEL, ANSWERS)
    duty.tick(live())
    assert duty.repmgr.follows == [] and duty.repmgrd.events == []


def test_a_stuck_standby_follows_the_primary_after_a_while_and_not_before():
    duty = healing(FIRST_LEVEL, ANSWERS)
    duty.tick(live(streaming=False))
    assert duty.repmgr.follows == []
    duty.healthy_at, duty.next_check = time.monotonic() - STUCK_AFTER - 1, 0.0
    duty.tick(live(streaming=False))
    assert duty.repmgr.follows == [1]


def test_a_standby_that_cannot_follow_asks_for_a_rewind():
    duty = healing(FIRST_LEVEL, {**ANSWERS, "pgmaster": primary("pgmaster", timeline=2, node_id=1)}, fail=True)
    duty.healthy_at = time.monotonic() - STUCK_AFTER - 1
    with pytest.raises(Redecide) as raised:
        duty.tick(live(timeline=1))  # streaming, but on the old timeline
    assert raised.value.decision.action is Action.REWIND and raised.value.decision.source == "pgmaster"


def test_a_cascade_without_partners_finds_the_primary_its_metadata_names():
    client = FakeClient({"pgslave1": down("pgslave1"), "pgmaster": primary("pgmaster")})
    found = running_primary(CASCADE, client, known="pgmaster")
    assert found.host == "pgmaster" and client.asked == ["pgslave1", "pgmaster"]


def test_nobody_to_follow_means_no_move():
    duty = healing(FIRST_LEVEL, {"pgmaster": down("pgmaster"), "pgslave3": standby("pgslave3")})
    duty.healthy_at = time.monotonic() - STUCK_AFTER - 1
    duty.tick(live(streaming=False))
    assert duty.repmgr.follows == []


def test_a_standby_that_lost_its_stream_follows_a_primary_on_a_newer_timeline_at_once():
    duty = healing(FIRST_LEVEL, {**ANSWERS, "pgmaster": primary("pgmaster", timeline=2, node_id=1)})
    duty.tick(live(streaming=False, timeline=1))  # no STUCK_AFTER wait: the failover is over
    assert duty.repmgr.follows == [1]


def test_a_standby_that_followed_and_still_does_not_stream_is_rewound():
    """It replays WAL of a timeline the primary never had (a promotion that lost to a later one)."""
    duty = healing(FIRST_LEVEL, {**ANSWERS, "pgmaster": primary("pgmaster", timeline=3, node_id=1)})
    duty.tick(live(streaming=False, timeline=2))
    assert duty.repmgr.follows == [1]
    duty.next_check = 0.0
    with pytest.raises(Redecide) as raised:
        duty.tick(live(streaming=False, timeline=2))
    assert raised.value.decision.action is Action.REWIND and duty.repmgr.follows == [1]


PROMOTED = {"pgmaster": down("pgmaster"), "pgslave3": primary("pgslave3", timeline=2, node_id=4)}
FROZEN_UPSTREAM = live(upstream="pgmaster", streaming=True, timeline=1)  # its stream looks alive for a while


def test_a_first_level_standby_follows_a_partner_promoted_while_its_upstream_froze_at_once():
    """A frozen primary's stream stays up until wal_receiver_timeout, and strict commits wait for a standby of
    the new primary: no STUCK_AFTER, no next check; repmgrd is stopped first, so its own follow never runs
    alongside, and started again after."""
    duty = healing(FIRST_LEVEL, PROMOTED, round=PROMOTED, probed=FROZEN_UPSTREAM)
    duty.next_check = time.monotonic() + 60
    duty.tick(FROZEN_UPSTREAM)
    assert duty.repmgr.follows == [4] and duty.repmgrd.events == ["stop", "restart"]
    assert duty.node.live.primary == "pgslave3"  # its status names the primary it follows, from the start
    assert duty.node.wakeup.is_set()  # and is read again at once after the follow


@pytest.mark.parametrize("cfg, round, probed", [
    (CASCADE, PROMOTED, FROZEN_UPSTREAM),  # a cascade stays under its upstream, which moves
    (FIRST_LEVEL, {"pgmaster": down("pgmaster"), "pgslave3": standby("pgslave3")}, FROZEN_UPSTREAM),
    (FIRST_LEVEL, PROMOTED, live(upstream="pgslave3", timeline=1, primary="pgslave3")),  # repmgrd moved it meanwhile
])
def test_a_standby_does_not_follow_at_once_otherwise(cfg, round, probed):
    duty = healing(cfg, PROMOTED, round=round, probed=probed)
    duty.next_check = time.monotonic() + 60
    duty.tick(FROZEN_UPSTREAM)
    assert duty.repmgr.follows == [] and duty.repmgrd.events in ([], ["stop", "start"])
