"""Shared helpers of the unit tests: loading a role's configuration, node answers, a fake status client."""
import pytest

from pgcluster import config
from pgcluster.cluster.status import NodeState, NodeStatus
from pgcluster.errors import ConfigError


def loader(role, base):
    """(load, problems) for a role: load(**changes) builds the configuration from base with changes
    (None removes a variable); problems(**changes) expects ConfigError and returns its problems."""

    def load(**changes):
        env = {**base, **changes}
        return config.load(role, {k: v for k, v in env.items() if v is not None})

    def problems(**changes):
        with pytest.raises(ConfigError) as caught:
            load(**changes)
        return caught.value.problems

    return load, problems


def answer(host, role="standby", primary="pgmaster", running=True, fenced=False, streaming=None, **extra):
    """A node's NodeStatus; a running standby streams unless told otherwise."""
    if streaming is None:
        streaming = running and role == "standby"
    state = NodeState.FENCED if fenced else (NodeState.RUNNING if running else NodeState.WAITING)
    return NodeStatus(host=host, role=role if running else "unknown", primary=primary, running=running,
                      fenced=fenced, streaming=streaming, state=state, **extra)


def primary(host, timeline=1, lsn=200, **extra):
    return answer(host, role="primary", primary=host, streaming=False, has_data=True, was_primary=True,
                  timeline=timeline, lsn=lsn, **extra)


def standby(host, of="pgmaster", timeline=1, lsn=150, **extra):
    return answer(host, primary=of, has_data=True, timeline=timeline, lsn=lsn, **extra)


def waiting(host, has_data=False, was_primary=False, timeline=0, lsn=0):
    return NodeStatus(host=host, state=NodeState.WAITING, has_data=has_data, was_primary=was_primary,
                      timeline=timeline, lsn=lsn)


def down(host):
    return NodeStatus.unknown(host)


class FakeClient:
    """The status client, answering from a dict {host: NodeStatus}; unknown hosts do not answer."""

    def __init__(self, answers=None):
        self.answers = dict(answers or {})
        self.asked = []

    def ask(self, host, timeout=1.0):
        self.asked.append(host)
        return self.answers.get(host) or NodeStatus.unknown(host)

    def ask_all(self, hosts, timeout=1.0):
        return {h: self.ask(h, timeout) for h in hosts}
