import pytest

from .goldens import GOLDEN, rendered

SECRET_FILES = {"node-pgpass", "barman-pgpass", "barman-barman.conf"}


def test_every_generated_file_has_a_golden_file():
    assert sorted(rendered()) == sorted(p.name for p in GOLDEN.iterdir())


@pytest.mark.parametrize("name", sorted(p.name for p in GOLDEN.iterdir()))
def test_generated_file_matches_golden(name):
    """After an intended change: `make goldens`, then read the diff."""
    content, mode = rendered()[name]
    assert content == (GOLDEN / name).read_text()
    if name in SECRET_FILES or name.startswith("pgpool-"):
        assert mode == 0o600
