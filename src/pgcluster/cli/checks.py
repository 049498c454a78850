"""Checks: `pgcluster config check|doc` and the health checks Docker and healthchecks/ call."""
import click

from .. import config
from .common import fail, load, verdict


# --- configuration -------------------------------------------------------------------------------
@click.group("config")
def config_group():
    """Check the environment, or print the variable reference."""


@config_group.command("check")
@click.option("--role", type=click.Choice(sorted(config.LOADERS)), default="node", show_default=True)
def config_check(role):
    """Validate the environment for a role exactly as its entrypoint does; print the settings (secrets hidden)."""
    for line in config.describe(role, load(role)):
        click.echo(line)


@config_group.command("doc")
def config_doc():
    """Print doc/CONFIGURATION.md, generated from the spec table."""
    click.echo(config.markdown(), nl=False)


# --- health checks -------------------------------------------------------------------------------
@click.group()
def health():
    """Health checks (exit 0 healthy, 1 not); healthchecks/ calls these."""


@health.command("is-major-master")
def health_is_major_master():
    """Healthy unless this node is a primary that a majority of its partners does not follow."""
    from ..node.health import is_major_master

    verdict(is_major_master(load("node", judge=False)))


@health.command("has-write-node")
def health_has_write_node():
    """Healthy when pgpool has an attached primary to send writes to."""
    from ..pgpool.health import has_write_node

    verdict(has_write_node(load("pgpool", judge=False)))


@health.command("has-enough-backends")
@click.argument("count", type=int, required=False)
def health_has_enough_backends(count):
    """Healthy when at least COUNT backends are up in pgpool (default REQUIRE_MIN_BACKENDS, at least 1)."""
    from ..pgpool.health import has_enough_backends

    cfg = load("pgpool", judge=False)
    verdict(has_enough_backends(cfg, count if count is not None else max(1, cfg.require_min_backends)))


@health.command("is-alive")
def health_is_alive():
    """Healthy while this container's supervisor answers on its status port (a node's /liveness, a router's
    /router, the backup's /backup): Docker Swarm restarts a task whose health check fails, so its stacks use this
    one, which fails only when the supervisor itself no longer works."""
    from ..cluster.endpoint import alive

    role = config.role_here()
    if role is None:
        fail(["no pgcluster container here: NODE_NAME, BACKENDS or REPLICATION_HOST is not set."])
    cfg = load(role, judge=False)
    if role == "barman":
        verdict(alive("127.0.0.1", cfg.metrics_port, "/backup"))
    verdict(alive("127.0.0.1", cfg.status_port, "/liveness" if role == "node" else "/router"))


@health.command("barman-check")
def health_barman_check():
    """Healthy when `barman check` passes: WAL streaming, a backup, the retention policy."""
    from ..backup.health import barman_check

    verdict(barman_check(load("barman", judge=False)))
