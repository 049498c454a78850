"""Where a role change is carried out, with a fake server, a fake repmgr and fake partners."""
import threading
from types import SimpleNamespace

import pytest

from pgcluster.cluster.status import NodeState, NodeStatus
from pgcluster.errors import CommandError, FatalError
from pgcluster.node import datadir
from pgcluster.node.role import Action, Decision
from pgcluster.node.transitions import Transitions

from .helpers import FakeClient, primary, standby


class FakeServer:
    def __init__(self):
        self.starts = 0
        self.up = False

    def start(self):
        self.starts += 1
        self.up = True

    def wait_ready(self, user):
        pass

    def running(self):
        return self.up

    def in_recovery(self, user):
        return False


class FakeRepmgr:
    def __init__(self, record=None, upstream=""):
        self.calls, self._record, self._upstream = [], record, upstream

    def __getattr__(self, name):  # clone, register_primary, register_standby, follow: recorded
        return lambda cfg, *args: self.calls.append((name, *args))

    def record(self, cfg):
        return self._record

    def upstream(self, cfg):
        return self._upstream


def transitions(tmp_path, repmgr=None, rewind=None, answers=None):
    cfg = SimpleNamespace(pgdata=str(tmp_path), host="pgmaster", postgres_user="postgres", status_port=8008)
    states = []
    t = Transitions(cfg, FakeServer(), FakeClient(answers or {"pgslave1": primary("pgslave1", node_id=2)}),
                    states.append, threading.Event(), repmgr=repmgr or FakeRepmgr(),
                    rewind=rewind or (lambda cfg, source: None))
    t.states = states
    return t


def test_a_standby_registers_and_follows_its_target(tmp_path):
    t = transitions(tmp_path, FakeRepmgr(record=None, upstream="pgslave3"))
    t.carry_out(Decision(Action.START_STANDBY, "", "pgslave1"))
    assert t.server.starts == 1 and t.repmgr.calls == [("register_standby", 2), ("follow", 2)]


def test_a_registered_standby_that_follows_its_target_is_left_alone(tmp_path):
    t = transitions(tmp_path, FakeRepmgr(record=("standby", True, 2), upstream="pgslave1"))
    t.carry_out(Decision(Action.START_STANDBY, "", "pgslave1"))
    assert t.repmgr.calls == []


def test_a_clone_empties_the_directory_first_and_registers_under_its_source(tmp_path):
    (tmp_path / "old").write_text("x")
    t = transitions(tmp_path)
    t.carry_out(Decision(Action.CLONE, "", "pgslave1"))
    assert list(tmp_path.iterdir()) == []  # the fake clone copies nothing
    assert t.repmgr.calls == [("clone", "pgslave1", 2), ("register_standby", 2)]
    assert t.states == [NodeState.CLONING, NodeState.STARTING]


def test_a_rewind_rejoins_with_a_follow(tmp_path):
    rewound = []
    t = transitions(tmp_path, rewind=lambda cfg, source: rewound.append(source))
    t.carry_out(Decision(Action.REWIND, "", "pgslave1"))
    assert rewound == ["pgslave1"] and t.repmgr.calls == [("follow", 2)]
    assert t.states == [NodeState.REWINDING, NodeState.STARTING]


def test_a_failed_rewind_falls_back_to_a_clone(tmp_path):
    def fail(cfg, source):
        raise CommandError("pg_rewind exited with 1: could not find common ancestor")

    t = transitions(tmp_path, rewind=fail)
    t.carry_out(Decision(Action.REWIND, "", "pgslave1"))
    assert [c[0] for c in t.repmgr.calls] == ["clone", "register_standby"]


def test_a_fence_restarts_the_data_directory_read_only(tmp_path):
    (tmp_path / "postgresql.auto.conf").write_text("primary_conninfo = 'host=pgslave1'\n")
    t = transitions(tmp_path)
    t.carry_out(Decision(Action.FENCE, "no majority"))
    assert datadir.is_fenced(str(tmp_path)) and datadir.is_standby_dir(str(tmp_path))
    assert "primary_conninfo" not in (tmp_path / "postgresql.auto.conf").read_text()
    assert t.server.starts == 1 and t.repmgr.calls == []


def test_a_fenced_primary_that_may_resume_is_unfenced_and_registered(tmp_path):
    datadir.fence(str(tmp_path))
    t = transitions(tmp_path, FakeRepmgr(record=None))
    t.carry_out(Decision(Action.START_PRIMARY, ""))
    assert not datadir.is_fenced(str(tmp_path)) and not datadir.is_standby_dir(str(tmp_path))
    assert t.repmgr.calls == [("register_primary",)]


def test_a_source_without_a_node_id_stops_the_clone_before_anything_is_removed(tmp_path):
    (tmp_path / "old").write_text("x")
    t = transitions(tmp_path, answers={"pgslave1": NodeStatus.unknown("pgslave1")})
    with pytest.raises(FatalError, match="pgslave1 did not answer with its node id"):
        t.carry_out(Decision(Action.CLONE, "", "pgslave1"))
    assert (tmp_path / "old").exists()


def test_ensure_following_waits_for_an_upstream_that_does_not_answer(tmp_path):
    t = transitions(tmp_path, answers={"pgslave1": standby("pgslave1", of="pgmaster")})  # no node id yet
    t.ensure_following("pgslave1")
    assert t.repmgr.calls == []
