"""The router's watcher round, with a fake pgpool (PCP) and fake nodes."""
from pgcluster import config
from pgcluster.pgpool import paths
from pgcluster.pgpool.pcp import PoolNode
from pgcluster.pgpool.watcher import Watcher

from .goldens import PGPOOL_ENV
from .helpers import FakeClient, answer, primary


class FakePcp:
    def __init__(self, nodes):
        self.pool = dict(nodes)
        self.calls = []

    def nodes(self, cfg):
        return dict(self.pool)

    def attach(self, cfg, num):
        self.calls.append(("attach", num))
        self.pool[num] = self.pool[num]._replace(status="up")

    def detach(self, cfg, num):
        self.calls.append(("detach", num))

    def recognise(self, cfg, num):
        self.calls.append(("recognise", num))
        self.pool[num] = self.pool[num]._replace(role="primary")


def watcher_for(tmp_path, monkeypatch, nodes, answers, lags=None):
    for name in ("PGPOOL_CONF", "POOL_HBA", "POOL_PASSWD", "PCP_CONF", "PCPPASS"):
        monkeypatch.setattr(paths, name, str(tmp_path / name.lower()))
    cfg = config.load("pgpool", PGPOOL_ENV)
    w = Watcher(cfg, pgpool_pid=0, pcp=FakePcp(nodes), client=FakeClient(answers),
                measure=lambda cfg, primary, hosts: dict(lags or {}))
    w.reloads = 0
    w.reload = lambda: setattr(w, "reloads", w.reloads + 1)
    return w


def test_a_round_attaches_the_standby_that_came_back_and_nothing_more(tmp_path, monkeypatch):
    nodes = {0: PoolNode("pgmaster", 5432, "up", 1.0, "primary"), 1: PoolNode("pgslave1", 5432, "down", 1.0, "standby")}
    w = watcher_for(tmp_path, monkeypatch, nodes, {"pgmaster": primary("pgmaster"), "pgslave1": answer("pgslave1")})
    assert [a for a, _, _ in w.tick()] == ["attach"]
    assert w.pcp.calls == [("attach", 1)] and w.reloads == 0
    assert w.tick() == []  # attached: the next round has nothing to do


def test_a_lagging_standby_is_weighed_out_by_a_reload_not_a_detach(tmp_path, monkeypatch):
    nodes = {0: PoolNode("pgmaster", 5432, "up", 1.0, "primary"), 1: PoolNode("pgslave1", 5432, "up", 1.0, "standby")}
    w = watcher_for(tmp_path, monkeypatch, nodes, {"pgmaster": primary("pgmaster"), "pgslave1": answer("pgslave1")},
                    lags={"pgslave1": 5 * 1048576})
    assert [a for a, _, _ in w.tick()] == ["weigh_out"]
    assert w.pcp.calls == [] and w.reloads == 1
    assert "backend_weight1 = 0\n" in (tmp_path / "pgpool_conf").read_text()


def test_nodes_that_do_not_answer_are_detached_only_once_silent_for_a_while(tmp_path, monkeypatch):
    nodes = {0: PoolNode("pgmaster", 5432, "down", 1.0, "primary"), 1: PoolNode("pgslave1", 5432, "up", 1.0, "standby")}
    w = watcher_for(tmp_path, monkeypatch, nodes, {})
    now = [100.0]
    w.clock = lambda: now[0]
    assert w.tick() == [] and w.pcp.calls == []
    now[0] += 3.0
    assert w.tick() == []
    now[0] += 2.0
    assert [a for a, _, _ in w.tick()] == ["detach"] and w.pcp.calls == [("detach", 1)]


def test_pgpool_is_told_the_primary_only_once_it_has_counted_none_for_longer_than_its_own_search(
        tmp_path, monkeypatch):
    nodes = {0: PoolNode("pgmaster", 5432, "up", 1.0, "standby"), 1: PoolNode("pgslave1", 5432, "up", 1.0, "standby")}
    w = watcher_for(tmp_path, monkeypatch, nodes, {"pgmaster": primary("pgmaster"), "pgslave1": answer("pgslave1")})
    now = [100.0]
    w.clock = lambda: now[0]
    assert w.tick() == []
    now[0] += 2.0
    assert w.tick() == []
    now[0] += 2.0
    assert [a for a, _, _ in w.tick()] == ["recognise"] and w.pcp.calls == [("recognise", 0)]
    now[0] += 2.0
    assert w.tick() == []
