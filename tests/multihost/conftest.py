"""The multi-host test needs Docker and the images, like the end-to-end tests; without Docker it fails."""
import subprocess

import pytest

from tests.e2e.conftest import LOG_LINES, images  # noqa: F401 (the session fixture: `make images`)

from .hosts import Swarm


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed scenario's report carries the last log lines of the routers and the nodes, so CI explains it."""
    outcome = yield
    report = outcome.get_result()
    swarms = [v for v in getattr(item, "funcargs", {}).values() if isinstance(v, Swarm)]
    if report.when != "call" or not report.failed or not swarms:
        return
    try:
        text = swarms[0].logs(("pgpool", "pgpool2", "pgmaster", "pgslave1", "pgslave3"), tail=LOG_LINES)
    except (AssertionError, subprocess.TimeoutExpired) as exc:  # a report is no place to fail again
        text = f"(no logs: {exc})"
    report.sections.append((f"routers' and nodes' logs, last {LOG_LINES} lines of each container", text))
