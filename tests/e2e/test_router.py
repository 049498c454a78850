"""pgpool-II follows the real primary (issue: pgpool router).

Clients know only pgpool's published 127.0.0.1 port. One cluster goes
through the scenarios in order.
"""
import time

import pytest

from .cluster import NODE_NAMES, PGBOUNCER, ROUTERS, SERVICES, failed_start, wait_for
from .conftest import cluster_fixture, writer_for
from .writer import Writer

FIRST_LEVEL = ("pgmaster", "pgslave1", "pgslave3")
NODE_OF = {name: service for service, name in NODE_NAMES.items()}


cluster = cluster_fixture("router")


def via_pgpool(cluster, sql, params=None, timeout=5):
    return cluster.query("pgpool", sql, params, timeout=timeout)


def served_by(cluster, sessions=40):
    """The node (service name) that answers a read, once per new session through pgpool."""
    nodes = []
    for _ in range(sessions):
        node = via_pgpool(cluster, "SELECT split_part(current_setting('cluster_name'), '/', 2)")[0][0]
        nodes.append(NODE_OF[node])
    return nodes


def pool_nodes(cluster):
    """{service: (status, role)} from pgpool's SHOW pool_nodes."""
    rows = via_pgpool(cluster, "SHOW pool_nodes")
    return {row[1]: (row[3], row[6]) for row in rows}


def weight(cluster, service):
    """The load-balance weight pgpool gives the service now."""
    return next(float(row[5]) for row in via_pgpool(cluster, "SHOW pool_nodes") if row[1] == service)


def writer_through_pgpool(cluster):
    return writer_for(cluster, services=["pgpool"])


def test_writes_and_reads_through_pgpool(cluster):
    cluster.wait_healthy(["pgpool"], timeout=120)
    via_pgpool(cluster, "INSERT INTO writes (n) VALUES (-1)")
    # A new session may read from a standby, which replays the row asynchronously.
    wait_for(lambda: via_pgpool(cluster, "SELECT n FROM writes WHERE n = -1") == [(-1,)], 10,
             "the row to be readable through pgpool")
    assert via_pgpool(cluster, "SELECT extname FROM pg_extension WHERE extname = 'postgis'") == [("postgis",)]


def via_pgbouncer(cluster, sql, router="pgpool", dbname="app"):
    return cluster.query(router, sql, timeout=5, private=PGBOUNCER, dbname=dbname)


WHO = "SELECT split_part(current_setting('cluster_name'), '/', 2), pg_is_in_recovery()"


def test_pgbouncer_pools_the_primary_and_the_standbys_for_reads(cluster):
    for router in ROUTERS:
        assert via_pgbouncer(cluster, WHO, router) == [(NODE_NAMES[cluster.primary], False)]
        via_pgbouncer(cluster, "INSERT INTO writes (n) VALUES (-floor(random() * 1e9)::bigint)", router)
    # app_ro: the standbys that stream from the primary, in turn, as PgBouncer opens server connections: six
    # sessions inside a transaction each need one of their own.
    readers = wait_for(lambda: (r := concurrent_readers(cluster)) and len(r) >= 2 and r, 60,
                       "read-only sessions spread over the standbys")
    assert all(in_recovery for _, in_recovery in readers), readers
    assert NODE_NAMES[cluster.primary] not in {node for node, _ in readers}


def concurrent_readers(cluster, sessions=6):
    """What six sessions of app_ro, each in an open transaction, read from."""
    conns = [cluster.connect("pgpool", dbname="app_ro", private=PGBOUNCER) for _ in range(sessions)]
    try:
        found = set()
        for conn in conns:
            conn.autocommit = False
            with conn.cursor() as cur:
                cur.execute(WHO)
                found.add(cur.fetchone())
        return found
    finally:
        for conn in conns:
            conn.close()


def test_reads_spread_over_the_standbys(cluster):
    wait_for(lambda: set(pool_nodes(cluster).values()) <= {("up", "primary"), ("up", "standby")}, 60,
             "every backend up in pgpool")
    standbys = {node for node in served_by(cluster) if node != cluster.primary}
    assert len(standbys) >= 2, f"reads reached only {standbys}"


def test_a_transaction_that_wrote_reads_from_the_primary(cluster):
    conn = cluster.connect("pgpool")
    conn.autocommit = False
    try:
        with conn.cursor() as cur:
            for _ in range(10):
                cur.execute("INSERT INTO writes (n) VALUES (-floor(random() * 1e9)::int)")
                cur.execute("SELECT split_part(current_setting('cluster_name'), '/', 2)")
                assert NODE_OF[cur.fetchone()[0]] == cluster.primary
        conn.rollback()
    finally:
        conn.close()


def test_temporary_and_unlogged_tables_are_read_on_the_primary(cluster):
    """Standbys cannot read either kind; pgpool must send those reads to the primary, whichever
    backend a session balances its other reads to."""
    via_pgpool(cluster, "CREATE UNLOGGED TABLE IF NOT EXISTS scratch_cache (x int); "
                        "INSERT INTO scratch_cache VALUES (1)")
    for _ in range(10):
        conn = cluster.connect("pgpool")
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                cur.execute("CREATE TEMPORARY TABLE scratch (x int)")
                cur.execute("INSERT INTO scratch VALUES (2)")
                cur.execute("SELECT x FROM scratch")
                assert cur.fetchall() == [(2,)]
                cur.execute("SELECT count(*) FROM scratch_cache")
                assert cur.fetchone()[0] >= 1
        finally:
            conn.close()


def test_a_lagging_standby_gets_no_reads(cluster):
    lagging = "pgslave3"
    cluster.exec(lagging, "pkill", "-STOP", "-f", "walreceiver")
    try:
        via_pgpool(cluster, "CREATE TABLE ballast AS SELECT g, repeat('x', 500) AS pad FROM generate_series(1, 20000) g",
                   timeout=30)
        wait_for(lambda: weight(cluster, lagging) == 0, 30,
                 "the watcher to send pgslave3 no new sessions, more than delay_threshold behind")
        assert lagging not in served_by(cluster)
    finally:
        cluster.exec(lagging, "pkill", "-CONT", "-f", "walreceiver")
    wait_for(lambda: lagging in served_by(cluster, 20), 60, "pgslave3 to get reads again once caught up")


def test_failover_writes_go_to_the_new_primary(cluster):
    """Through pgpool, and through both routers' PgBouncer (the pooled endpoint) at the same time."""
    writer = writer_through_pgpool(cluster)
    pooled = Writer(lambda: cluster.published(ROUTERS, PGBOUNCER), cluster.password, routers=True,
                    start=int(time.time() * 1000) + 10**9)  # a range of its own beside the first writer's
    pooled.start()
    wait_for(lambda: len(pooled.acked) > 10, 30, "writes through PgBouncer")
    killed_at = time.monotonic()
    cluster.kill("pgmaster")
    firsts = {}
    for name, w in (("pgpool", writer), ("PgBouncer", pooled)):
        firsts[name] = wait_for(lambda w=w: w.first_ack_after(killed_at, not_on="node1"), 60,
                                f"a write through {name} after the kill")
        assert firsts[name] - killed_at < 30
    first = max(firsts.values())
    for w in (writer, pooled):
        wait_for(lambda w=w: sum(1 for _, t, _ in w.acked if t > first) > 20, 60, "writes to keep flowing")
        w.stop()
    survivors = tuple(s for s in SERVICES if s != "pgmaster")
    cluster.primary = cluster.wait_tree(services=survivors)
    for w in (writer, pooled):
        assert {node for _, t, node in w.acked if t > first} == {NODE_NAMES[cluster.primary]}
    wait_for(lambda: pool_nodes(cluster)[cluster.primary] == ("up", "primary"), 30, "pgpool's primary")
    for router in ROUTERS:
        wait_for(lambda: via_pgbouncer(cluster, WHO, router) == [(NODE_NAMES[cluster.primary], False)], 30,
                 f"{router}'s PgBouncer to follow the new primary")


def test_the_restarted_old_primary_is_attached_as_a_standby(cluster):
    cluster.start("pgmaster")
    assert cluster.wait_tree() == cluster.primary
    wait_for(lambda: pool_nodes(cluster)["pgmaster"] == ("up", "standby"), 60,
             "pgmaster attached again as a standby")


BACKEND_NUM = {"pgmaster": 0, "pgslave1": 1, "pgslave3": 2, "pgslave2": 3}  # BACKENDS in docker-compose.yml


def pcp_detach(cluster, service):
    cluster.exec("pgpool", "pcp_detach_node", "-h", "localhost", "-p", "9898", "-U", "pcp_user", "-w",
                 "-n", str(BACKEND_NUM[service]))


def test_pgpool_takes_the_primary_back_before_the_standbys_after_losing_them_all(cluster):
    """The sequence that stopped writes for minutes (faults in sequence): pgpool loses the primary and the
    standbys numbered before it, and keeps one standby. A request that leaves pgpool without a primary makes
    it search for one for search_primary_node_timeout, and every request waits behind that search; when the
    standbys were attached first, each made a search of its own, one after another. The primary goes first."""
    primary = cluster.primary
    assert BACKEND_NUM[primary] > 0, "the failover above leaves a standby numbered before the primary"
    kept = max((s for s in FIRST_LEVEL + ("pgslave2",) if s != primary), key=BACKEND_NUM.get)
    writer = writer_through_pgpool(cluster)
    for service in sorted((s for s in BACKEND_NUM if s not in (primary, kept)), key=BACKEND_NUM.get):
        pcp_detach(cluster, service)
    wait_for(lambda: pool_nodes(cluster)[primary] == ("up", "primary"), 30, "the standbys detached")
    pcp_detach(cluster, primary)
    since = time.monotonic()
    first = wait_for(lambda: writer.first_ack_after(since), 60, "a write through pgpool after the primary's detach")
    assert first - since < 25, f"no write through pgpool for {first - since:.1f} s"
    writer.stop()
    wait_for(lambda: all(status == "up" for status, _ in pool_nodes(cluster).values()), 90,
             "every backend attached again")
    assert pool_nodes(cluster)[primary] == ("up", "primary")


def fault_through_pgpool(cluster, inflict, undo):
    """Inflict a fault on the primary while a client writes through pgpool, then undo it: writes move to a
    new primary, none lands on the old one, before or after it is back (fenced), and it returns as an
    attached standby."""
    old = cluster.primary
    cluster.wait_repmgrd_settled([s for s in SERVICES if s != old])
    writer = writer_through_pgpool(cluster)
    inflict(old)
    since = time.monotonic()  # once the command returns, the fault is in place
    try:
        wait_for(lambda: writer.first_ack_after(since + 1, not_on=NODE_NAMES[old]), 60,
                 "writes through pgpool on a new primary")
    finally:
        undo(old)
    back_at = time.monotonic()
    wait_for(lambda: sum(1 for _, t, _ in writer.acked if t > back_at) > 40, 60, "writes after it is back")
    writer.stop()
    assert not [n for n, t, node in writer.acked if t > since and node == NODE_NAMES[old]]
    cluster.primary = cluster.wait_tree()
    assert cluster.primary != old
    wait_for(lambda: pool_nodes(cluster)[old] == ("up", "standby"), 90, "the old primary back as a standby")


def test_a_cut_off_primary_never_receives_writes_through_pgpool(cluster):
    fault_through_pgpool(cluster, cluster.disconnect, cluster.reconnect)


def test_a_frozen_primary_is_left_behind_through_pgpool(cluster):
    """A frozen primary keeps its connections open and answers nothing; pgpool must still move on."""
    fault_through_pgpool(cluster, cluster.pause, cluster.unpause)


def test_a_primary_thawed_just_after_its_successor_took_over_stops_at_once_and_the_routers_keep_the_successor(
        cluster):
    """A primary frozen just until a standby has been promoted wakes before the standbys follow the new one,
    so they still name it as their primary. It must stop taking writes at once (the soak of faults in
    sequence saw it writable for a second beside its successor), and the routers must keep the successor, on
    the newer timeline, instead of taking the thawed primary back (the routers did, and wrote nothing for
    31 s)."""
    old = cluster.primary
    cluster.wait_repmgrd_settled([s for s in SERVICES if s != old])
    writer = writer_for(cluster, services=ROUTERS)
    cluster.pause(old)
    new = wait_for(lambda: next((s for s in FIRST_LEVEL if s != old and cluster.is_primary(s)), None), 60,
                   "a standby promoted", interval=0.1)
    cluster.unpause(old)
    thawed = time.monotonic()
    stopped = wait_for(lambda: not cluster.is_primary(old) and time.monotonic(), 10, f"{old} to stop writes",
                       interval=0.05)
    assert stopped - thawed < 1, f"{old} took writes for {stopped - thawed:.2f} s after the thaw"
    first = wait_for(lambda: writer.first_ack_after(thawed, not_on=NODE_NAMES[old]), 30,
                     "a write through the routers after the thaw")
    wait_for(lambda: writer.acked[-1][1] > first + 10, 30, "ten seconds of writes after that")
    writer.stop()
    after = [t for _, t, _ in writer.acked if t >= first]
    longest = max(b - a for a, b in zip(after, after[1:], strict=False))
    assert longest < 5, f"writes through the routers stopped for {longest:.1f} s after they had resumed"
    assert not [n for n, t, node in writer.acked if t > thawed and node == NODE_NAMES[old]]
    assert {node for _, t, node in writer.acked if t >= first} == {NODE_NAMES[new]}
    cluster.primary = cluster.wait_tree()
    assert cluster.primary == new
    wait_for(lambda: pool_nodes(cluster)[old] == ("up", "standby"), 90, "the old primary back as a standby")


def test_a_client_of_both_routers_survives_the_loss_of_either(cluster):
    """A libpq multi-host DSN over the two routers (host=a,b target_session_attrs=read-write): killing either
    stops writes for at most a moment, nothing acknowledged is lost, and the killed router serves again."""
    writer = writer_for(cluster, services=ROUTERS)
    for router in ROUTERS:
        killed_at = time.monotonic()
        cluster.kill(router)
        first = wait_for(lambda: writer.first_ack_after(killed_at, sent_after=True), 30, f"writes without {router}")
        assert first - killed_at < 10, f"no write for {first - killed_at:.1f} s after {router} was killed"
        cluster.start(router)
        cluster.wait_healthy([router], timeout=120)
        assert cluster.write_via(router) == NODE_NAMES[cluster.primary]
    writer.stop()
    present = {n for (n,) in cluster.query(cluster.primary, "SELECT n FROM writes")}
    assert writer.numbers() <= present


def test_pgpool_restarts_with_a_backend_down_and_attaches_it_later(cluster):
    down = next(s for s in ("pgslave1", "pgslave3", "pgmaster") if s != cluster.primary)
    cluster.stop(down)
    cluster.restart("pgpool")
    cluster.wait_healthy(["pgpool"], timeout=120)
    via_pgpool(cluster, "INSERT INTO writes (n) VALUES (-7)")
    assert pool_nodes(cluster)[down][0] == "down"
    cluster.start(down)
    wait_for(lambda: pool_nodes(cluster)[down] == ("up", "standby"), 90, f"{down} attached once it is back")


def test_a_hung_pgpool_is_restarted_by_its_router_while_pgbouncer_serves_on(cluster):
    """Every pgpool process frozen (pgpool can hang this way, pgpool/pgpool2#88): its router restarts it."""
    cluster.wait_healthy(["pgpool"], timeout=120)
    via_pgpool(cluster, "INSERT INTO writes (n) VALUES (-8)")
    cluster.exec("pgpool", "sh", "-c", "/bin/kill -STOP -- -$(pgrep -o -f ^/usr/sbin/pgpool)")
    frozen = time.monotonic()
    with pytest.raises(Exception):
        via_pgpool(cluster, "SELECT 1", timeout=3)
    assert via_pgbouncer(cluster, "INSERT INTO writes (n) VALUES (-9) RETURNING n") == [(-9,)]
    wait_for(lambda: via_pgpool(cluster, "INSERT INTO writes (n) VALUES (-10) RETURNING n") == [(-10,)], 90,
             "a write through the restarted pgpool")
    assert time.monotonic() - frozen > 15  # not before its silence outlasted a search for a primary
    assert "restarting pgpool (PgBouncer keeps its sessions)" in cluster.logs("pgpool")


def test_health_checks(cluster):
    out = cluster.exec("pgpool", "healthchecks/has_write_node").stdout
    assert out.startswith(f"pgpool sends writes to {cluster.primary}")
    assert cluster.exec("pgpool", "healthchecks/has_enough_backends", "4").returncode == 0
    assert cluster.exec("pgpool", "healthchecks/has_enough_backends", "5", check=False).returncode == 1


BAD_PGPOOL = """
services:
  pgpool:
    image: postgis-cluster/pgpool:latest
    restart: "no"
    environment:
      BACKENDS: "{backends}"
      DB_USERS: postgres:secret
      CHECK_USER: replication_user
      PCP_PASSWORD: secret
      TLS_REQUIRED: "0"  # no TLS files: these start without TLS
{extra}
"""


@pytest.mark.parametrize("name, backends, extra, message", [
    ("backends", "0:pgmaster:5432,pgslave1", "      CHECK_PASSWORD: secret",
     "pgcluster: BACKENDS='0:pgmaster:5432,pgslave1' is not valid: expected comma-separated "
     "num:host:port:weight:data_dir:flag entries"),
    ("configs", "0:pgmaster::::", "      CHECK_PASSWORD: secret\n      CONFIGS: 'num_init_childs:64'",
     "pgcluster: CONFIGS sets num_init_childs, which pgpool-II does not know"),
    ("nopw", "0:pgmaster::::", "",
     "pgcluster: CHECK_PASSWORD is required: set it (or CHECK_PASSWORD_FILE)."),
    ("bouncer", "0:pgmaster::::", "      CHECK_PASSWORD: secret\n      PGBOUNCER_CONFIGS: 'default_pool_sise:40'",
     "pgcluster: PGBOUNCER_CONFIGS is not valid: unknown parameter: pgbouncer/default_pool_sise"),
    ("poolmode", "0:pgmaster::::", "      CHECK_PASSWORD: secret\n      PGBOUNCER_POOL_MODE: sometimes",
     "pgcluster: PGBOUNCER_POOL_MODE='sometimes' is not valid: expected one of transaction, session, statement."),
    ("minimum", "0:pgmaster::::", "      CHECK_PASSWORD: secret\n      REQUIRE_MIN_BACKENDS: '1'\n"
                                  "      WAIT_BACKEND_TIMEOUT: '2'",
     "REQUIRE_MIN_BACKENDS=1 but only 0 backends (none) accepted connections within WAIT_BACKEND_TIMEOUT=2 s"),
])
def test_bad_input_stops_pgpool_with_one_clear_line(tmp_path, name, backends, extra, message):
    compose = BAD_PGPOOL.format(backends=backends, extra=extra)
    with failed_start(tmp_path, f"badpool{name}", compose, "pgpool") as (_, lines):
        assert len(lines) == 1 and message in lines[0], lines
