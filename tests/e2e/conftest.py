"""End-to-end fixtures. Docker is required: without it these tests fail, they never skip."""
import subprocess

import pytest

from .cluster import ROOT

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="session", autouse=True)
def images():
    """Docker up and the images built (layer cache reused), exactly as `make images` does."""
    result = subprocess.run(["make", "-s", "images"], cwd=ROOT, capture_output=True, text=True, timeout=3600)
    assert result.returncode == 0, f"make images failed (is Docker available?):\n{result.stderr[-3000:]}"
