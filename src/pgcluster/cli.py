"""The `pgcluster` command: container entrypoints, checks and operator tools."""
import logging
import os
import sys

import click

from . import config, log
from .errors import ConfigError, FatalError, PgclusterError

logger = logging.getLogger("pgcluster")


def _fail(lines):
    for line in lines:
        click.echo(f"pgcluster: {line}", err=True)
    sys.exit(1)


def _load(role):
    try:
        return config.LOADERS[role]()
    except ConfigError as exc:
        _fail(exc.problems)


@click.group()
def main():
    """Configure, supervise and check the postgis-cluster containers."""


@main.group()
def node():
    """The PostgreSQL node container."""


@node.command("run")
def node_run():
    """Entrypoint: validate the environment, decide the role, run PostgreSQL and repmgrd."""
    from .node import files, postgres
    from .node.supervisor import Supervisor

    cfg = _load("node")
    problems = postgres.check_settings(cfg.settings)
    if problems:
        _fail(problems)
    os.umask(0o077)
    log.setup(cfg.node_name, cfg.log_level)
    files.write_all(cfg)
    logger.info("Starting node %s (id %s) at %s in cluster %s.", cfg.node_name, cfg.node_id, cfg.host,
                cfg.cluster_name)
    try:
        code = Supervisor(cfg).run()
    except PgclusterError as exc:
        logger.error("%s", exc)
        code = 1
    sys.exit(code)


@node.command("service")
@click.argument("action", type=click.Choice(["start", "stop", "restart"]))
def node_service(action):
    """Start, stop or restart PostgreSQL through the supervisor (repmgr's service commands)."""
    from .node.supervisor import request_service

    try:
        ok = request_service(action)
    except (OSError, FatalError) as exc:
        _fail([str(exc)])
    sys.exit(0 if ok else 1)


@main.group("config")
def config_group():
    """Check the environment, or print the variable reference."""


@config_group.command("check")
@click.option("--role", type=click.Choice(sorted(config.LOADERS)), default="node", show_default=True)
def config_check(role):
    """Validate the environment for a role and print the resulting settings (secrets hidden)."""
    cfg = _load(role)
    for line in config.describe(cfg):
        click.echo(line)


@config_group.command("doc")
def config_doc():
    """Print doc/CONFIGURATION.md, generated from the spec table."""
    click.echo(config.markdown(), nl=False)


@main.group()
def health():
    """Health checks (exit 0 healthy, 1 not); healthchecks/ calls these."""


@health.command("is-major-master")
def health_is_major_master():
    """Healthy unless this node is a primary that a majority of its partners does not follow."""
    from .health import checks

    _verdict(checks.is_major_master(_load("node")))


def _verdict(result):
    healthy, message = result
    click.echo(message)
    sys.exit(0 if healthy else 1)
