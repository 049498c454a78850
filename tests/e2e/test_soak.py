"""A short seeded soak: every kind of fault once, in sequence, in strict mode (issue: faults in sequence).

bench/chaos runs the same engine for an hour (`make soak`); here it must lose no acknowledged row, never
see two writable nodes, and have a write acknowledged within 60 s of every fault.
"""
from .chaos import Chaos, schedule
from .conftest import cluster_fixture

# Strict mode on every node; health checked every 2 s, so that convergence shows at once.
STRICT = "".join(f"  {s}:\n    environment: {{CONSISTENCY_MODE: strict}}\n    healthcheck: {{interval: 2s}}\n"
                 for s in ("pgmaster", "pgslave1", "pgslave2", "pgslave3")) + \
    "".join(f"  {s}:\n    healthcheck: {{interval: 2s}}\n" for s in ("pgpool", "pgpool2", "backup"))
SEED = 20261201

cluster = cluster_fixture("soak", STRICT)


def test_every_kind_of_fault_in_sequence_loses_nothing_and_never_shows_two_primaries(cluster):
    lines = []
    try:
        result = Chaos(cluster, log=lines.append).run(schedule(SEED, every_kind=True))
    finally:
        (cluster.workdir / "soak.log").write_text("\n".join(lines) + "\n")
    assert result["lost"] == 0, result
    assert result["two_writable_samples"] == [], result
    assert result["no_write_within_60_s"] == [], result
    assert not [r for r in result["runs"] if r["converge_s"] is None and not r["quick"]], result
