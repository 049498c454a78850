"""The role API for load balancers, the nodes' /metrics and /cluster, and HAProxy following the primary
(issue: observability).

One cluster with the haproxy profile, the nodes' status ports published on 127.0.0.1 and LOG_FORMAT=json
everywhere: the answers before a failover, HAProxy's two ports, `docker kill` of the primary with a
writer through HAProxy, then every log line of the run.
"""
import json
import re
import time
import urllib.error
import urllib.request

import psycopg2
import pytest

from .cluster import HAPROXY, ROUTERS, SERVICES, Cluster, wait_for
from .writer import Writer

STATUS = 8008
REPLICAS = HAPROXY + 1
OURS = SERVICES + ROUTERS + ("backup",)
# The status ports published; every container of ours logs JSON.
OVERRIDE = "".join(f"  {s}:\n    environment: {{LOG_FORMAT: json}}\n" + (f"    ports: ['127.0.0.1::{STATUS}']\n"
                                                                         if s in SERVICES else "") for s in OURS)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = Cluster("roleapi", tmp_path_factory.mktemp("roleapi"), services_yaml=OVERRIDE, profiles=("haproxy",))
    c.down()
    c.up()
    c.wait_healthy(SERVICES, timeout=180)
    c.query("pgmaster", "CREATE TABLE writes (n bigint PRIMARY KEY, at timestamptz DEFAULT now())")
    yield c
    c.down()


def get(cluster, service, path):
    """(status, body) of GET path on the service's status port; (None, error) when it does not answer."""
    try:
        url, context = cluster.url(service, STATUS, path)
        with urllib.request.urlopen(url, timeout=5, context=context) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except (OSError, AssertionError) as exc:  # AssertionError: a stopped container publishes no port
        return None, str(exc)


def answering(cluster, path, services=SERVICES):
    return sorted(s for s in services if get(cluster, s, path)[0] == 200)


def via(cluster, port, sql):
    """The first row of sql on a new connection through one of HAProxy's ports."""
    conn = psycopg2.connect(host="127.0.0.1", port=cluster.port("haproxy", port), dbname="app", user="postgres",
                            password=cluster.password, connect_timeout=3)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(sql)
            return cur.fetchone()
    finally:
        conn.close()


def test_exactly_the_primary_answers_primary_and_the_streaming_standbys_answer_replica(cluster):
    wait_for(lambda: answering(cluster, "/replica") == ["pgslave1", "pgslave2", "pgslave3"], 60,
             "every standby, the cascade too, to answer /replica")
    assert answering(cluster, "/primary") == answering(cluster, "/read-write") == ["pgmaster"]
    assert answering(cluster, "/read-only") == ["pgslave1", "pgslave2", "pgslave3"]
    assert answering(cluster, "/health") == answering(cluster, "/liveness") == sorted(SERVICES)
    assert answering(cluster, "/readiness") == sorted(SERVICES)
    status, body = get(cluster, "pgslave1", "/primary")
    assert status == 503 and "not a running, unfenced primary" in json.loads(body)["why"]
    assert get(cluster, "pgslave1", "/replica?lag=0")[0] in (200, 503)  # a size is accepted; 0 may be behind
    status, body = get(cluster, "pgslave1", "/replica?lag=lots")
    assert status == 400 and "expected bytes, such as 1048576 or 10MB" in body


def test_cluster_lists_every_member_and_metrics_parse(cluster):
    members = json.loads(get(cluster, "pgslave2", "/cluster")[1])
    assert members["primary"] == "pgmaster"
    assert {(m["host"], m["role"]) for m in members["members"]} == {
        ("pgmaster", "primary"), ("pgslave1", "standby"), ("pgslave2", "standby"), ("pgslave3", "standby")}
    for service in SERVICES:
        text = get(cluster, service, "/metrics")[1]
        typed = set(re.findall(r"^# TYPE (\S+) (?:gauge|counter)$", text, re.M))
        for line in text.splitlines():
            if not line.startswith("#"):
                assert re.fullmatch(r'([a-z_]+)\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\} -?[0-9.e+-]+', line), line
                assert line.split("{")[0] in typed, line
        role = "primary" if service == "pgmaster" else "standby"
        assert re.search(rf'^pgcluster_node_role{{node="[^"]+",role="{role}"}} 1$', text, re.M), text


def test_haproxy_sends_writes_to_the_primary_and_reads_to_the_standbys(cluster):
    wait_for(lambda: via(cluster, HAPROXY, "SELECT NOT pg_is_in_recovery()")[0], 30, "HAProxy to find the primary")
    assert via(cluster, HAPROXY, "INSERT INTO writes (n) VALUES (1) RETURNING n") == (1,)
    standbys = set()

    def spread():  # each connection goes to the next standby in turn
        in_recovery, name = via(cluster, REPLICAS, "SELECT pg_is_in_recovery(), current_setting('cluster_name')")
        assert in_recovery, name
        standbys.add(name)
        return len(standbys) >= 2

    wait_for(spread, 30, "reads through HAProxy to reach more than one standby")


def test_after_the_primary_is_killed_writes_through_haproxy_resume_on_the_new_primary(cluster):
    writer = Writer(lambda: [cluster.port("haproxy", HAPROXY)], cluster.password, routers=True)
    writer.start()
    wait_for(lambda: len(writer.acked) > 20, 30, "the writer to get going")
    try:
        killed_at = time.monotonic()
        cluster.kill("pgmaster")
        first = wait_for(lambda: writer.first_ack_after(killed_at, not_on="node1"), 90,
                         "a write through HAProxy on the new primary")
        assert first - killed_at < 60
        wait_for(lambda: sum(1 for _, t, _ in writer.acked if t > first) >= 20, 30, "writes after the failover")
    finally:
        writer.stop()
    survivors = tuple(s for s in SERVICES if s != "pgmaster")
    primary = cluster.wait_tree(services=survivors)
    for _ in range(10):  # sampled: exactly one node answers /primary, the one that takes writes
        assert answering(cluster, "/primary", survivors) == [primary]
    present = {n for (n,) in cluster.query(primary, "SELECT n FROM writes", timeout=10)}
    assert writer.numbers() <= present
    cluster.start("pgmaster")
    wait_for(lambda: answering(cluster, "/replica") == sorted(s for s in SERVICES if s != primary), 180,
             "the old primary to rejoin and answer /replica")
    assert answering(cluster, "/primary") == [primary]
    cluster.primary = primary


def history(cluster, service):
    out = cluster.exec(service, "pgcluster", "history", "--json").stdout
    return [json.loads(line) for line in out.splitlines()]


def test_history_shows_the_failover_and_the_rejoin_in_every_container(cluster):
    timeline = cluster.query(cluster.primary, "SELECT timeline_id FROM pg_control_checkpoint()")[0][0]
    new = cluster.query(cluster.primary, "SELECT split_part(current_setting('cluster_name'), '/', 2)")[0][0]

    def shown(service):
        ours = [(e["node"], e["event"], e["timeline"]) for e in history(cluster, service) if e["source"] == "pgcluster"]
        return (new, "promotion", timeline) in ours and any(e[:2] == ("node1", "rejoin") for e in ours)

    for service in ("pgpool", "backup", "pgslave2"):
        wait_for(lambda s=service: shown(s), 60, f"the promotion of {new} and node1's rejoin in {service}'s history")
    events = history(cluster, "pgpool")
    assert [e["at"] for e in events] == sorted(e["at"] for e in events)  # newest last
    # repmgr's own record of the promotion: repmgrd's, or that of the takeover when repmgrd promoted nobody
    assert any(e["source"] == "repmgr" and e["event"] in ("repmgrd_failover_promote", "standby_promote")
               for e in events), events
    table = cluster.exec("pgmaster", "pgcluster", "history").stdout
    assert f"{new}   promotion" in table and "node1   rejoin" in table


def test_every_log_line_of_the_run_is_one_json_object_and_no_password_appears(cluster):
    events = []
    for service in OURS:
        lines = [line.split("| ", 1)[1] for line in cluster.logs(service).splitlines() if "| " in line]
        assert len(lines) > 20, service
        for line in lines:
            for password in cluster.passwords.values():
                assert password not in line, f"a password in {service}'s log"
            entry = json.loads(line)
            assert {"time", "level", "node", "component", "event", "message"} <= set(entry), line
            events.append(entry)
    assert any(e["component"] == "postgres" and e.get("severity") == "LOG" for e in events)
    assert any(e["event"] == "decision" and e.get("reason") for e in events)
    assert any(e["event"] == "promotion" for e in events)
