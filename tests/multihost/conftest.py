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
    swarm = swarms[0]
    for service in ("pgpool", "pgpool2", "pgmaster", "pgslave1", "pgslave3"):
        try:
            host = swarm.manager(timeout=30)
            result = swarm.engine(host, "service", "logs", "--tail", str(LOG_LINES), f"{swarm.stack}_{service}",
                                  check=False, timeout=60)
            lines = (result.stdout + result.stderr).splitlines()
        except (AssertionError, subprocess.TimeoutExpired) as exc:  # a report is no place to fail again
            lines = [f"(no logs: {exc})"]
        report.sections.append((f"{service} log, last {LOG_LINES} lines", "\n".join(lines)))
