"""End-to-end fixtures. Docker is required: without it these tests fail, they never skip."""
import subprocess

import pytest

from .cluster import ROOT, ROUTERS, SERVICES, Cluster, wait_for
from .writer import Writer

pytestmark = pytest.mark.e2e

LOG_LINES = 40  # per service, attached to a failed test's report


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test's report carries the last log lines of its cluster's services, so CI explains it."""
    outcome = yield
    report = outcome.get_result()
    clusters = [v for v in getattr(item, "funcargs", {}).values() if isinstance(v, Cluster)]
    if report.when != "call" or not report.failed or not clusters:
        return
    cluster = clusters[0]
    for service in cluster.services:
        try:
            lines = cluster.logs(service).splitlines()[-LOG_LINES:]
        except Exception as exc:  # a report is no place to fail again
            lines = [f"(no logs: {exc})"]
        report.sections.append((f"{service} log, last {LOG_LINES} lines", "\n".join(lines)))


@pytest.fixture(scope="session", autouse=True)
def images():
    """Docker up and the images built (layer cache reused), exactly as `make images` does."""
    result = subprocess.run(["make", "-s", "images"], cwd=ROOT, capture_output=True, text=True, timeout=3600)
    assert result.returncode == 0, f"make images failed (is Docker available?):\n{result.stderr[-3000:]}"


def start_cluster(name, workdir, services_yaml=""):
    """A fresh default cluster, healthy, with a `writes` table for Writer; pgmaster is its primary."""
    cluster = Cluster(name, workdir, services_yaml=services_yaml)
    cluster.down()
    cluster.up()
    cluster.wait_healthy(SERVICES, timeout=180)
    cluster.query("pgmaster", "CREATE TABLE writes (n bigint PRIMARY KEY, at timestamptz DEFAULT now())")
    cluster.primary = "pgmaster"
    return cluster


def cluster_fixture(name, services_yaml=""):
    """A module-scoped fixture: one fresh cluster that a module's scenarios go through in order."""

    @pytest.fixture(scope="module")
    def cluster(tmp_path_factory):
        c = start_cluster(name, tmp_path_factory.mktemp(name), services_yaml)
        yield c
        c.down()

    return cluster


def writer_for(cluster, services=SERVICES, warm=10):
    """A running Writer through the services' ports (libpq multi-host over the nodes, or over the routers), once
    it has had `warm` writes acknowledged."""
    writer = Writer(lambda: cluster.published(services), cluster.password, routers=set(services) <= set(ROUTERS))
    writer.start()
    wait_for(lambda: len(writer.acked) > warm, 30, "the writer to get going")
    return writer

