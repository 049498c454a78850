"""The monitoring profile: a real Prometheus scrapes every part, and an alert fires and resolves
(issue: observability).

The cluster runs with `--profile monitoring`; the test reads Prometheus's HTTP API on its 127.0.0.1 port.
"""
import json
import urllib.parse
import urllib.request

import pytest

from .cluster import ALL_SERVICES, SERVICES, Cluster, wait_for

JOBS = {"pgcluster": 4, "postgres": 4, "routers": 2, "barman": 1}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = Cluster("monitoring", tmp_path_factory.mktemp("monitoring"), profiles=("monitoring",))
    c.down()
    c.up()
    c.wait_healthy(SERVICES, timeout=180)
    yield c
    c.down()


def api(cluster, path, **params):
    url = f"http://127.0.0.1:{cluster.port('prometheus', 9090)}/api/v1/{path}"
    if params:
        url += "?" + urllib.parse.urlencode(params)
    with urllib.request.urlopen(url, timeout=10) as response:
        answer = json.loads(response.read())
    assert answer["status"] == "success", answer
    return answer["data"]


def query(cluster, expr):
    """{instance or '': value} of an instant query."""
    return {r["metric"].get("instance", ""): float(r["value"][1]) for r in api(cluster, "query", query=expr)["result"]}


def firing(cluster):
    return {(a["labels"]["alertname"], a["labels"].get("instance", "")) for a in api(cluster, "alerts")["alerts"]
            if a["state"] == "firing"}


def test_every_scrape_target_is_up_and_its_metrics_are_read(cluster):
    def all_up():
        targets = api(cluster, "targets")["activeTargets"]
        jobs = {}
        for t in targets:
            if t["health"] == "up":
                jobs[t["labels"]["job"]] = jobs.get(t["labels"]["job"], 0) + 1
        return jobs == JOBS

    wait_for(all_up, 240, "every scrape target to be up")
    wait_for(lambda: query(cluster, 'sum(pgcluster_node_role{role="primary"})') == {"": 1.0}, 60,
             "exactly one primary in the nodes' own gauges")
    assert len(query(cluster, "pg_up == 1")) == 4  # prometheus-postgres-exporter in each node
    # Four backends, two routers: the cascade is attached last, a scrape after it streams.
    wait_for(lambda: query(cluster, "count(pgpool_backend_up == 1)") == {"": 8.0}, 60,
             "every backend up in both routers' metrics")
    assert query(cluster, "count(pgbouncer_up == 1)") == {"": 2.0}
    assert len(query(cluster, "barman_disk_free_bytes")) == 1
    slowest = max(query(cluster, 'max_over_time(scrape_duration_seconds{job="pgcluster"}[1m])').values())
    assert slowest < 1.0, f"a node's /metrics took {slowest:.3f} s"
    assert not {name for name, _ in firing(cluster)} & {"NoPrimary", "TwoPrimaries", "NodeFenced"}


def test_a_stopped_standby_fires_standby_not_streaming_which_resolves_once_it_streams_again(cluster):
    instance = "pgslave2:8008"
    cluster.stop("pgslave2")
    wait_for(lambda: ("StandbyNotStreaming", instance) in firing(cluster), 120,
             "StandbyNotStreaming to fire for the stopped standby (for: 30s)")
    cluster.start("pgslave2")
    wait_for(lambda: ("StandbyNotStreaming", instance) not in firing(cluster), 180,
             "StandbyNotStreaming to resolve once the standby streams again")
    cluster.wait_healthy(ALL_SERVICES, timeout=180)
