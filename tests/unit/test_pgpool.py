import pytest

from pgcluster import config
from pgcluster.errors import PgclusterError
from pgcluster.parsers import Backend
from pgcluster.pgpool import files, paths, pcp, settings, watcher
from pgcluster.pgpool.pcp import PoolNode

from .goldens import PGPOOL_ENV
from .helpers import answer, down, loader
from .helpers import primary as primary_answer

load, problems = loader("pgpool", PGPOOL_ENV)


def test_backends_take_postdock_defaults_for_empty_fields():
    assert load().backends == (
        Backend(0, "pgmaster", 5432, 1.0, "/var/lib/postgresql/data", "ALLOW_TO_FAILOVER"),
        Backend(1, "pgslave1", 5432, 1.0, "/var/lib/postgresql/data", "ALLOW_TO_FAILOVER"),
        Backend(2, "pgslave3", 5433, 2.0, "/var/lib/postgresql/data", "ALLOW_TO_FAILOVER"),
    )


def test_db_users_passwords_may_hold_colons_and_are_never_shown():
    cfg = load(DB_USERS="postgres:s3:cr,app:pw")
    assert cfg.db_users == (("postgres", "s3:cr"), ("app", "pw"))
    assert "s3:cr" not in repr(cfg) and "s3:cr" not in "\n".join(config.describe("pgpool", cfg))


@pytest.mark.parametrize("changes, expected", [
    ({"BACKENDS": None}, "BACKENDS is required"),
    ({"BACKENDS": "pgmaster:5432"}, "BACKENDS='pgmaster:5432' is not valid: expected comma-separated "
                                    "num:host:port:weight:data_dir:flag entries"),
    ({"BACKENDS": "0:pgmaster:port"}, "BACKENDS='0:pgmaster:port' is not valid"),
    ({"BACKENDS": "0:pgmaster,0:pgslave1"}, "BACKENDS='0:pgmaster,0:pgslave1' is not valid: expected "
                                            "comma-separated num:host:port:weight:data_dir:flag entries"),
    ({"BACKENDS": "0:pgmaster::::MAYBE"}, "BACKENDS='0:pgmaster::::MAYBE' is not valid"),
    ({"BACKENDS": "0:pg master"}, "BACKENDS='0:pg master' is not valid"),
    ({"BACKENDS": "0:a:1:1:/d:ALLOW_TO_FAILOVER:extra"}, "BACKENDS='0:a:1:1:/d:ALLOW_TO_FAILOVER:extra' is not valid"),
    ({"DB_USERS": None}, "DB_USERS is required: set it (or DB_USERS_FILE)"),
    ({"DB_USERS": "postgres"}, "DB_USERS=(hidden) is not valid: expected comma-separated user:password pairs"),
    ({"DB_USERS": "postgres:"}, "DB_USERS=(hidden) is not valid"),
    ({"CHECK_PASSWORD": None}, "CHECK_PASSWORD is required: set it (or CHECK_PASSWORD_FILE)"),
    ({"PCP_PASSWORD": None}, "PCP_PASSWORD is required: set it (or PCP_PASSWORD_FILE)"),
    ({"CHECK_USER": None}, "CHECK_USER is required"),
    ({"REQUIRE_MIN_BACKENDS": "x"}, "REQUIRE_MIN_BACKENDS='x' is not valid: expected an integer from 0 to 128"),
    ({"REQUIRE_MIN_BACKENDS": "4"}, "REQUIRE_MIN_BACKENDS=4 is not valid: expected at most the 3 backends"),
    ({"WAIT_BACKEND_TIMEOUT": "0"}, "WAIT_BACKEND_TIMEOUT='0' is not valid"),
    ({"CONFIGS": "num_init_children=64"}, "CONFIGS='num_init_children=64' is not valid: expected name:value pairs"),
])
def test_bad_values_name_the_variable_and_the_form(changes, expected):
    found = problems(**changes)
    assert len(found) == 1 and found[0].startswith(expected), found


@pytest.mark.parametrize("configs, expected", [
    ("num_init_children:64", []),
    ("num_init_childs:64", ["CONFIGS sets num_init_childs, which pgpool-II does not know; expected "
                            "name:value pairs of pgpool.conf settings."]),
    ("backend_hostname0:x", ["CONFIGS sets backend_hostname0, which pgcluster manages (BACKENDS, the "
                             "container layout and the lag check); remove it from CONFIGS."]),
    ("sr_check_period:1", ["CONFIGS sets sr_check_period, which pgcluster manages (BACKENDS, the "
                           "container layout and the lag check); remove it from CONFIGS."]),
    ("delay_threshold:0", []),
    ("delay_threshold:1MB", ["CONFIGS sets delay_threshold to '1MB'; expected a whole number of bytes, "
                             "such as delay_threshold:1048576 (0 turns the lag rule off)."]),
])
def test_configs_are_judged_against_pgpools_own_sample_by_the_loader(configs, expected):
    if expected:
        assert problems(CONFIGS=configs) == expected
    else:
        assert load(CONFIGS=configs).settings


def test_a_bad_configs_does_not_hide_other_problems():
    found = problems(CONFIGS="num_init_childs:1", REQUIRE_MIN_BACKENDS="4")
    assert [p.split()[0] for p in found] == ["REQUIRE_MIN_BACKENDS=4", "CONFIGS"], found


def test_without_pgpools_sample_configs_cannot_be_judged(monkeypatch, tmp_path):
    monkeypatch.setattr(paths, "SAMPLE_CONF", str(tmp_path / "missing"))
    assert problems()[0].startswith("CONFIGS cannot be judged here")


def test_parse_node_info():
    text = ("Hostname               : pgslave1\nPort                   : 5432\nStatus                 : 3\n"
            "Weight                 : 0.250000\nStatus Name            : down\nRole                   : standby\n"
            "Replication Delay      : 0\nLast Status Change     : 2026-11-22 03:00:00\n")
    assert pcp.parse_node_info(text) == PoolNode("pgslave1", 5432, "down", 0.25, "standby")


def node(host, status="up", role="standby", weight=0.5):
    return PoolNode(host, 5432, status, weight, role)


PRIMARY = primary_answer("pgmaster")


def primary_at(host):
    return primary_answer(host)


@pytest.mark.parametrize("nodes, statuses, expected", [
    ({0: node("pgmaster", role="primary"), 1: node("pgslave1")},
     {"pgmaster": PRIMARY, "pgslave1": answer("pgslave1")}, []),
    ({0: node("pgmaster", role="primary"), 1: node("pgslave1", status="down")},
     {"pgmaster": PRIMARY, "pgslave1": answer("pgslave1")},
     [("attach", 1, "pgslave1 streams from the primary pgmaster")]),
    ({0: node("pgmaster", status="down"), 1: node("pgslave1")},
     {"pgmaster": PRIMARY, "pgslave1": answer("pgslave1")},
     [("attach", 0, "pgmaster is the running primary")]),
    ({0: node("pgmaster", status="down"), 1: node("pgslave1", role="primary")},
     {"pgmaster": answer("pgmaster", primary="pgslave1", streaming=False), "pgslave1": primary_at("pgslave1")},
     []),  # not streaming yet: not attached
    ({0: node("pgmaster", status="down"), 1: node("pgslave1", role="primary")},
     {"pgmaster": answer("pgmaster", primary="pgmaster"), "pgslave1": primary_at("pgslave1")},
     []),  # follows another primary: never attached
    ({0: node("pgmaster"), 1: node("pgslave1", role="primary")},
     {"pgmaster": answer("pgmaster", primary="", streaming=False, fenced=True), "pgslave1": primary_at("pgslave1")},
     [("detach", 0, "pgmaster has fenced itself")]),
    ({0: node("pgmaster", status="down"), 1: node("pgslave1", status="down")},
     {"pgmaster": PRIMARY, "pgslave1": primary_at("pgslave1")},
     []),  # two primaries, neither followed and on one timeline: attach neither
    ({0: node("pgmaster", status="down"), 1: node("pgslave1", status="down"), 2: node("pgslave3")},
     {"pgmaster": PRIMARY, "pgslave1": primary_answer("pgslave1", timeline=2),
      "pgslave3": answer("pgslave3", primary="pgslave1")},
     [("attach", 1, "pgslave1 is the running primary")]),  # two primaries: the one the standbys follow
    ({0: node("pgmaster", status="down")}, {"pgmaster": down("pgmaster")}, []),
])
def test_watcher_decisions(nodes, statuses, expected):
    assert watcher.decide(nodes, statuses) == expected


def test_a_primary_pgpool_still_writes_to_is_detached_once_another_runs():
    """pgpool-II 4.6's health check never marks a frozen backend down: the cluster's answers do."""
    nodes = {0: node("pgmaster", role="primary"), 1: node("pgslave1", status="down"), 2: node("pgslave3")}
    statuses = {"pgmaster": down("pgmaster"), "pgslave1": primary_answer("pgslave1", timeline=2),
                "pgslave3": answer("pgslave3", primary="pgslave1")}
    assert watcher.decide(nodes, statuses) == [("detach", 0, "pgslave1 is the running primary, not pgmaster"),
                                              ("attach", 1, "pgslave1 is the running primary")]


def test_standbys_wait_until_pgpool_has_the_primary_attached():
    """A standby attached while pgpool has no primary makes pgpool search for one, and every request after
    it (the primary's attach too) waits out that search."""
    nodes = {0: node("pgmaster", status="down"), 1: node("pgslave1", status="down"), 2: node("pgslave3")}
    statuses = {"pgmaster": PRIMARY, "pgslave1": answer("pgslave1"), "pgslave3": answer("pgslave3")}
    assert watcher.decide(nodes, statuses) == [("attach", 0, "pgmaster is the running primary")]
    nodes[0] = node("pgmaster", role="primary")
    assert watcher.decide(nodes, statuses) == [("attach", 1, "pgslave1 streams from the primary pgmaster")]


@pytest.mark.parametrize("unrecognised, expected", [
    (1.0, []),
    (4.0, [("recognise", 0, "pgmaster is the running primary and pgpool has counted no primary for 4 s")]),
])
def test_a_running_primary_pgpool_does_not_count_as_one_is_recognised_once_its_search_has_run_out(
        unrecognised, expected):
    nodes = {0: node("pgmaster"), 1: node("pgslave1")}
    statuses = {"pgmaster": PRIMARY, "pgslave1": answer("pgslave1")}
    assert watcher.pgpool_primaryless(nodes, statuses)
    assert not watcher.pgpool_primaryless({**nodes, 0: node("pgmaster", role="primary")}, statuses)
    assert watcher.decide(nodes, statuses, unrecognised=unrecognised) == expected


@pytest.mark.parametrize("silent, expected", [
    ({"pgslave3": 1.0}, []),
    ({"pgslave3": 5.0}, [("detach", 2, "pgslave3 has not answered for 5 s")]),
])
def test_a_backend_silent_for_long_is_detached(silent, expected):
    nodes = {0: node("pgmaster", role="primary"), 2: node("pgslave3")}
    assert watcher.decide(nodes, {"pgmaster": PRIMARY, "pgslave3": down("pgslave3")}, silent=silent) == expected


FROZEN_HOST = {0: node("pgmaster"), 2: node("pgslave3", role="primary"), 3: node("pgslave2")}
FROZEN_ANSWERS = {"pgmaster": answer("pgmaster", primary="pgslave3", streaming=False),
                  "pgslave3": down("pgslave3"), "pgslave2": down("pgslave2")}


@pytest.mark.parametrize("silent, expected", [
    ({"pgslave3": 5.0, "pgslave2": 5.0},
     [("detach", 3, "pgslave2 has not answered for 5 s"), ("detach", 2, "pgslave3 has not answered for 5 s")]),
    ({"pgslave3": 5.0, "pgslave2": 1.0},
     [("detach", 3, "pgslave2 does not answer either, and pgpool's search for a new primary would wait on it"),
      ("detach", 2, "pgslave3 has not answered for 5 s")]),
    ({"pgslave3": 1.0, "pgslave2": 5.0},
     [("detach", 3, "pgslave2 has not answered for 5 s")]),  # a standby alone: pgpool searches for nothing
])
def test_a_frozen_hosts_standby_is_detached_before_pgpools_primary_on_it(silent, expected):
    """Detaching pgpool's primary makes it search the attached backends for a new one, and that search waits
    without end on a frozen one: a frozen host's standbys go first, even those silent only briefly."""
    assert watcher.decide(FROZEN_HOST, FROZEN_ANSWERS, silent=silent) == expected


MB = 1048576
WEIGHTS = {0: 1.0, 1: 1.0, 2: 1.0}
ALL_ANSWER = {"pgmaster": PRIMARY, "pgslave1": answer("pgslave1"), "pgslave3": answer("pgslave3")}


def nodes_with(slave1_weight, slave3=("down", 0.0)):
    return {0: node("pgmaster", role="primary", weight=0.33), 1: node("pgslave1", weight=slave1_weight),
            2: node("pgslave3", status=slave3[0], weight=slave3[1])}


ATTACH_3 = ("attach", 2, "pgslave3 streams from the primary pgmaster")


@pytest.mark.parametrize("nodes, lags, threshold, expected", [
    (nodes_with(0.5), {"pgslave1": 0, "pgslave3": 0}, MB, [ATTACH_3]),
    (nodes_with(0.5), {"pgslave1": 2 * MB, "pgslave3": MB // 2 + 1}, MB,
     [("weigh_out", 1, f"pgslave1 is {2 * MB} bytes of WAL behind the primary pgmaster, more than "
                       f"delay_threshold ({MB})")]),  # and pgslave3 is attached once within half of it
    (nodes_with(0.0), {"pgslave1": 2 * MB}, MB, [ATTACH_3]),  # pgslave1 already gets no new sessions
    (nodes_with(0.0), {"pgslave1": MB}, MB, [ATTACH_3]),  # not yet within half
    (nodes_with(0.0), {"pgslave1": MB // 2}, MB,
     [("weigh_in", 1, f"pgslave1 is {MB // 2} bytes of WAL behind the primary pgmaster, within half of "
                      f"delay_threshold ({MB})"), ATTACH_3]),
    (nodes_with(0.5), {"pgslave1": 2 * MB, "pgslave3": 2 * MB}, 0, [ATTACH_3]),  # the rule is off
    (nodes_with(0.5), {}, MB, [ATTACH_3]),  # not measured: not judged
    (nodes_with(0.5, slave3=("up", 0.5)), {"pgmaster": 5 * MB}, MB, []),  # the primary never lags
    ({0: node("pgmaster", role="primary", weight=0.0), 1: node("pgslave1", weight=0.5)}, {"pgslave1": 0}, MB,
     [("weigh_in", 0, "pgmaster is the primary now")]),
])
def test_watcher_keeps_new_sessions_off_a_lagging_standby(nodes, lags, threshold, expected):
    assert watcher.decide(nodes, ALL_ANSWER, lags, threshold, WEIGHTS) == expected


def test_weighed_out_follows_pgpool_and_the_actions():
    nodes = {0: node("pgmaster", role="primary"), 1: node("pgslave1", weight=0.0), 2: node("pgslave3", weight=0.0)}
    weights = {0: 1.0, 1: 1.0, 2: 0.0}  # pgslave3 has weight 0 in BACKENDS: not the watcher's doing
    assert watcher.weighed_out(nodes, weights, []) == {1}
    assert watcher.weighed_out(nodes, weights, [("weigh_in", 1, "")]) == set()
    assert watcher.weighed_out(nodes, weights, [("weigh_out", 0, "")]) == {0, 1}


def test_unweighted_backends_render_with_weight_zero():
    conf = files.render_all(load(), unweighted={1})[paths.PGPOOL_CONF][0]
    assert "backend_weight1 = 0\n" in conf and "backend_weight0 = 1.0\n" in conf


def test_delay_threshold_defaults_and_follows_configs():
    assert settings.delay_threshold(load()) == MB
    assert settings.delay_threshold(load(CONFIGS="delay_threshold:0")) == 0


def test_pgpool_counts_as_hung_only_after_a_silence_longer_than_its_own_search():
    from pgcluster.pgpool.liveness import HUNG_AFTER, Liveness

    now, answers = [0.0], []
    live = Liveness(None, probe=lambda cfg: answers.pop(0), clock=lambda: now[0])
    answers[:] = [True, False, False, False]
    live.check()
    assert live.silent_for() == 0.0
    now[0] = 10.0
    live.check()
    assert live.silent_for() == 10.0
    now[0] = HUNG_AFTER + 1
    live.check()
    assert live.silent_for() > HUNG_AFTER
    live.reset()
    assert live.silent_for() == 0.0


def test_a_login_that_hangs_holds_up_nothing_but_its_own_thread():
    import threading
    import time

    from pgcluster.pgpool.liveness import Liveness

    hanging, stopping = threading.Event(), threading.Event()
    live = Liveness(None, probe=lambda cfg: hanging.wait(5), every=0.01)
    live.start(stopping)
    started = time.monotonic()
    assert live.silent_for() < 1 and time.monotonic() - started < 0.1  # read, never probed, by the round
    stopping.set()
    hanging.set()


class FakePcp:
    def __init__(self, nodes=None):
        self.found = nodes

    def nodes(self, cfg):
        if self.found is None:
            raise PgclusterError("pcp_node_info did not finish within 10 s.")
        return self.found


def test_a_silent_pgpool_is_explained_only_by_its_control_port_saying_it_has_no_primary():
    from pgcluster.pgpool.liveness import unexplained

    standbys = {0: PoolNode("pgmaster", 5432, "up", 1.0, "standby")}
    primary = {0: PoolNode("pgmaster", 5432, "up", 1.0, "primary")}
    assert not unexplained(None, FakePcp(standbys))  # logins wait for a primary; the watcher names it
    assert unexplained(None, FakePcp(primary))
    assert unexplained(None, FakePcp(None))  # its control port is silent too


class RecordingPcp(FakePcp):
    def __init__(self, nodes):
        super().__init__(nodes)
        self.detached = []

    def detach(self, cfg, num):
        self.detached.append(num)


class FakeBouncer:
    def __init__(self):
        self.primary = None

    def retarget(self, primary, readers, why):
        self.primary = primary


def test_a_switchover_retargets_pgbouncer_and_detaches_the_stopped_old_primary_from_pgpool():
    """pgpool would notice the old primary's clean stop only by its health check, and fail new sessions till
    then; detached, it looks for the new primary at once."""
    from pgcluster.pgpool.control import RouterControl

    fake = RecordingPcp({0: node("pgmaster", role="primary"), 2: node("pgslave3")})
    bouncer = FakeBouncer()
    control = RouterControl(None, bouncer, pcp=fake)
    assert control.retarget({"primary": "pgslave3", "old": "pgmaster", "owner": "x"}) == (200, {})
    assert bouncer.primary == "pgslave3" and fake.detached == [0]
    fake.found = {0: node("pgmaster", status="down", role="standby"), 2: node("pgslave3", role="primary")}
    control.retarget({"primary": "pgslave3", "old": "pgmaster"})
    assert fake.detached == [0]  # already down: nothing to do
    fake.found = None
    assert control.retarget({"primary": "pgslave3", "old": "pgmaster"}) == (200, {})  # pcp silent: logged
