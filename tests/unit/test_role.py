from dataclasses import replace

import pytest

from pgcluster.cluster.quorum import has_quorum
from pgcluster.node.role import Action, Decision, Facts, Local, decide_role

from .helpers import answer, down, primary, standby, waiting

VOTERS = ("pgmaster", "pgslave1", "pgslave3")
EMPTY = Local(has_data=False)
STANDBY_DATA = Local(has_data=True, was_primary=False, timeline=1, lsn=100)
PRIMARY_DATA = Local(has_data=True, was_primary=True, timeline=1, lsn=100)


def facts(host, local, peers, upstream="pgmaster", voters=VOTERS, clean=False):
    return Facts(host=host, local=local, initial_primary=upstream in ("", host), upstream=upstream,
                 voters=voters, peers=tuple(peers), clean_over_rewind=clean)


@pytest.mark.parametrize("name, f, action, source, reason", [
    ("fresh cluster, initial primary",
     facts("pgmaster", EMPTY, [waiting("pgslave1"), waiting("pgslave3")]),
     Action.INIT_PRIMARY, "",
     "the data directory is empty, this is the initial primary and none of the 3 of 3 partners that answer holds data"),
    ("fresh cluster, initial primary alone without partners",
     facts("pgmaster", EMPTY, [], upstream="", voters=("pgmaster",)),
     Action.INIT_PRIMARY, "",
     "the data directory is empty, this is the initial primary and none of the 1 of 1 partners that answer holds data"),
    ("initial primary without a majority waits",
     facts("pgmaster", EMPTY, [down("pgslave1"), down("pgslave3")]),
     Action.WAIT, "",
     "the data directory is empty and only 1 of 3 partners answer; waiting for a majority before creating the cluster"),
    ("initial primary whose volume was lost clones from the current primary",
     facts("pgmaster", EMPTY, [primary("pgslave1", timeline=2), standby("pgslave3", "pgslave1", timeline=2)]),
     Action.CLONE, "pgslave1",
     "the data directory is empty and pgslave1 is the primary; cloning from pgslave1"),
    ("initial primary whose volume was lost never creates a second cluster",
     facts("pgmaster", EMPTY, [waiting("pgslave1", has_data=True, was_primary=True, timeline=2), down("pgslave3")]),
     Action.WAIT, "",
     "the data directory is empty but pgslave1 holds data; waiting for a primary to clone from rather than creating a second cluster"),
    ("empty standby waits for its upstream",
     facts("pgslave1", EMPTY, [waiting("pgmaster"), waiting("pgslave3")]),
     Action.WAIT, "",
     "the data directory is empty and upstream pgmaster is not running yet; waiting for it before cloning"),
    ("empty standby, upstream unreachable",
     facts("pgslave1", EMPTY, [down("pgmaster"), waiting("pgslave3")]),
     Action.WAIT, "",
     "the data directory is empty and upstream pgmaster does not answer; waiting for it before cloning"),
    ("empty standby clones from its primary",
     facts("pgslave1", EMPTY, [primary("pgmaster"), waiting("pgslave3")]),
     Action.CLONE, "pgmaster",
     "the data directory is empty and pgmaster is the primary; cloning from pgmaster"),
    ("empty cascade clones from its upstream standby",
     facts("pgslave2", EMPTY, [standby("pgslave1", "pgmaster")], upstream="pgslave1", voters=("pgslave2",)),
     Action.CLONE, "pgslave1",
     "the data directory is empty and upstream pgslave1 runs as a standby; cloning from it"),
    ("empty standby whose upstream is gone clones from the new primary",
     facts("pgslave3", EMPTY, [down("pgmaster"), primary("pgslave1", timeline=2)]),
     Action.CLONE, "pgslave1",
     "the data directory is empty and pgslave1 is the primary; cloning from pgslave1"),
    ("former standby follows its upstream",
     facts("pgslave1", STANDBY_DATA, [primary("pgmaster"), standby("pgslave3", "pgmaster")]),
     Action.START_STANDBY, "pgmaster",
     "the data directory holds a standby and pgmaster is the primary; following pgmaster"),
    ("former standby follows the new primary when its upstream is gone",
     facts("pgslave3", STANDBY_DATA, [down("pgmaster"), primary("pgslave1", timeline=2)]),
     Action.START_STANDBY, "pgslave1",
     "the data directory holds a standby and pgslave1 is the primary; following pgslave1"),
    ("former standby starts before anyone else",
     facts("pgslave1", STANDBY_DATA, [down("pgmaster"), down("pgslave3")]),
     Action.START_STANDBY, "pgmaster",
     "the data directory holds a standby and no primary answers yet; starting as a standby of pgmaster, which it follows once it is up"),
    ("fast restart of the primary keeps it primary",
     facts("pgmaster", PRIMARY_DATA, [standby("pgslave1", "pgmaster"), standby("pgslave3", "pgmaster")]),
     Action.START_PRIMARY, "",
     "this node was primary, 3 of 3 partners answer and none knows another primary"),
    ("former primary that finds another primary rewinds",
     facts("pgmaster", PRIMARY_DATA, [primary("pgslave1", timeline=2), standby("pgslave3", "pgslave1", timeline=2)]),
     Action.REWIND, "pgslave1",
     "this node was primary but pgslave1 is the primary now; rejoining as its standby with pg_rewind"),
    ("former primary re-clones with CLEAN_OVER_REWIND",
     facts("pgmaster", PRIMARY_DATA, [primary("pgslave1", timeline=2)], clean=True),
     Action.CLONE, "pgslave1",
     "this node was primary but pgslave1 is the primary now; re-cloning from it (CLEAN_OVER_REWIND)"),
    ("former primary without a majority waits",
     facts("pgmaster", PRIMARY_DATA, [down("pgslave1"), down("pgslave3")]),
     Action.WAIT, "",
     "this node was primary but only 1 of 3 partners answer; not starting as primary without a majority"),
    ("partners that follow an unreachable primary",
     facts("pgmaster", PRIMARY_DATA, [standby("pgslave3", "pgslave1", timeline=2), down("pgslave1")]),
     Action.WAIT, "",
     "this node was primary but its partners follow pgslave1, which does not answer as primary; waiting rather than starting a second primary"),
    ("partners that disagree: one follows me, one follows another",
     facts("pgmaster", PRIMARY_DATA, [standby("pgslave1", "pgmaster"), standby("pgslave3", "pgslave1")]),
     Action.WAIT, "",
     "this node was primary but its partners follow pgslave1, which does not answer as primary; waiting rather than starting a second primary"),
    ("a partner on a newer timeline means someone was promoted",
     facts("pgmaster", PRIMARY_DATA, [waiting("pgslave3", has_data=True, timeline=2, lsn=50), down("pgslave1")]),
     Action.WAIT, "",
     "pgslave3 is on timeline 2, newer than this node's 1, so another node was promoted; waiting for it to run as primary"),
    ("two former primaries: the less advanced waits",
     facts("pgmaster", PRIMARY_DATA, [waiting("pgslave1", True, True, timeline=1, lsn=500), waiting("pgslave3", True)]),
     Action.WAIT, "",
     "pgslave1 was primary too and is at least as far ahead; waiting for it to start as primary"),
    ("two former primaries: the more advanced starts",
     facts("pgslave1", Local(True, True, 2, 500), [waiting("pgmaster", True, True, timeline=1, lsn=900), waiting("pgslave3", True, timeline=2)]),
     Action.START_PRIMARY, "",
     "this node was primary, 3 of 3 partners answer and none knows another primary"),
    ("two equal former primaries: the first listed starts",
     facts("pgmaster", PRIMARY_DATA, [waiting("pgslave1", True, True, timeline=1, lsn=100), down("pgslave3")]),
     Action.START_PRIMARY, "",
     "this node was primary, 2 of 3 partners answer and none knows another primary"),
    ("partners still name a former primary on an older timeline: the newer one starts",
     facts("pgmaster", Local(True, True, 3, 300), [standby("pgslave1", "pgslave3", timeline=2, lsn=250),
                                                   waiting("pgslave3", True, True, timeline=2, lsn=280)]),
     Action.START_PRIMARY, "",
     "this node was primary, 3 of 3 partners answer and none knows another primary"),
    ("the older former primary waits for the newer one",
     facts("pgslave3", Local(True, True, 2, 280), [standby("pgslave1", "pgslave3", timeline=2, lsn=250),
                                                   waiting("pgmaster", True, True, timeline=3, lsn=300)]),
     Action.WAIT, "",
     "pgmaster is on timeline 3, newer than this node's 2, so another node was promoted; waiting for it to run as primary"),
    ("a fenced primary elsewhere is not a primary to follow",
     facts("pgslave1", PRIMARY_DATA, [answer("pgmaster", primary="", fenced=True, streaming=False, has_data=True, was_primary=True, timeline=1, lsn=90), standby("pgslave3", "pgslave1")]),
     Action.START_PRIMARY, "",
     "this node was primary, 3 of 3 partners answer and none knows another primary"),
])
def test_decide_role(name, f, action, source, reason):
    decision = decide_role(f)
    assert (decision.action, decision.source, decision.reason) == (action, source, reason), name


@pytest.mark.parametrize("visible, voters, expected", [
    ({"a", "b"}, ("a", "b", "c"), True),
    ({"c"}, ("a", "b", "c"), False),
    ({"a"}, ("a", "b"), True),      # an even split: the half with the first listed voter carries on
    ({"b"}, ("a", "b"), False),
    ({"a", "b"}, ("a", "b", "c", "d"), True),
    ({"c", "d"}, ("a", "b", "c", "d"), False),
    ({"a"}, ("a",), True),
    ({"x", "y"}, ("a", "b", "c"), False),   # only voters count
])
def test_has_quorum(visible, voters, expected):
    assert has_quorum(visible, voters) is expected


def test_a_former_primary_waits_while_a_standby_is_being_promoted():
    from pgcluster.cluster.status import NodeState

    promoting = replace(standby("pgslave3", "pgmaster"), state=NodeState.PROMOTING)
    decision = decide_role(facts("pgmaster", PRIMARY_DATA, [standby("pgslave1", "pgmaster"), promoting]))
    assert (decision.action, decision.reason) == (
        Action.WAIT, "this node was primary but pgslave3 is being promoted; waiting rather than starting a second "
                     "primary")


def test_a_standby_that_fails_to_start_twice_is_rewound_onto_the_node_it_follows():
    from pgcluster.node.supervisor import rewind_after_failed_starts

    start = Decision(Action.START_STANDBY, "following pgslave1", "pgslave1")
    assert rewind_after_failed_starts(start, 0) == (None, 1)
    decision, count = rewind_after_failed_starts(start, 1)
    assert (decision.action, decision.source, count) == (Action.REWIND, "pgslave1", 0)
    assert rewind_after_failed_starts(Decision(Action.START_PRIMARY, "restored"), 1) == (None, 0)
