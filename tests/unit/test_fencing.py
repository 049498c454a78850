import pytest

from pgcluster.node.fencing import rival_with_precedence
from pgcluster.node.promotion import check_promotion
from pgcluster.node.sync import synchronous_names

VOTERS = ("pgmaster", "pgslave1", "pgslave3")


def node(role="standby", running=True, primary="pgmaster", fenced=False, lsn=100, timeline=1, **extra):
    return dict(role=role, running=running, primary=primary, fenced=fenced, lsn=lsn, timeline=timeline, **extra)


@pytest.mark.parametrize("answers, expected", [
    ({"pgslave1": node(), "pgslave3": node()}, None),
    ({"pgslave1": node(role="primary", timeline=2), "pgslave3": None}, "pgslave1"),
    ({"pgslave1": node(role="primary", timeline=1)}, None),          # same timeline, listed after me
    ({"pgslave1": node(role="primary", timeline=2, fenced=True)}, None),
    ({"pgslave1": node(role="primary", timeline=2, running=False)}, None),
])
def test_rival_with_precedence(answers, expected):
    assert rival_with_precedence({"host": "pgmaster", "timeline": 1}, answers, VOTERS) == expected


def test_rival_with_equal_timeline_listed_first_wins():
    me = {"host": "pgslave3", "timeline": 2}
    assert rival_with_precedence(me, {"pgslave1": node(role="primary", timeline=2)}, VOTERS) == "pgslave1"


ME = {"host": "pgslave1", "primary": "pgmaster", "lsn": 100, "upstream_last_seen": 1}


@pytest.mark.parametrize("answers, mode, allowed, reason, wait", [
    ({"pgmaster": None, "pgslave3": node()}, "eventual", True,
     "pgmaster does not answer and 2 of 3 partners answer; promoting once 4 s have passed since it was last seen", 3.0),
    ({"pgmaster": node(role="primary"), "pgslave3": node()}, "eventual", False,
     "pgmaster still answers as a running primary, so it has not failed; not promoting", 0.0),
    ({"pgmaster": node(role="standby", fenced=True), "pgslave3": node()}, "eventual", True,
     "pgmaster has fenced itself and 3 of 3 partners answer; promoting once 4 s have passed since it was last seen",
     3.0),
    ({"pgmaster": None, "pgslave3": None}, "eventual", False,
     "only 1 of 3 partners answer; a standby in a minority is never promoted", 0.0),
    ({"pgmaster": None, "pgslave3": node(running=False)}, "strict", False,
     "strict mode: pgslave3 does not answer and may hold acknowledged commits this node lacks; waiting for it "
     "rather than losing them", 0.0),
    ({"pgmaster": None, "pgslave3": node(lsn=200)}, "strict", False,
     "strict mode: pgslave3 has received more WAL than this node", 0.0),
    ({"pgmaster": None, "pgslave3": node(lsn=100)}, "strict", True,
     "pgmaster does not answer and 2 of 3 partners answer; promoting once 4 s have passed since it was last seen", 3.0),
])
def test_check_promotion(answers, mode, allowed, reason, wait):
    assert check_promotion(ME, answers, VOTERS, mode, 3.0) == (allowed, reason, wait)


def test_promotion_waits_nothing_once_the_fence_time_has_passed():
    me = dict(ME, upstream_last_seen=9)
    assert check_promotion(me, {"pgmaster": None, "pgslave3": node()}, VOTERS, "eventual", 3.0)[2] == 0.0


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
