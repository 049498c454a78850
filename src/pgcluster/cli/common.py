"""What the pgcluster commands share: a role's configuration loaded, one line per problem, exit codes."""
import logging
import os
import sys

import click

from .. import config, log, tls
from ..errors import ConfigError, PgclusterError

logger = logging.getLogger("pgcluster")


def fail(lines):
    for line in lines:
        click.echo(f"pgcluster: {line}", err=True)
    sys.exit(1)


def load(role, judge=True):
    """The role's configuration, its TLS made this process's policy (libpq's and HTTPS's, children's too)."""
    try:
        cfg = config.load(role, judge=judge)
    except ConfigError as exc:
        fail(exc.problems)
    tls.use(cfg.tls)
    return cfg


def start(role, name):
    """A container's configuration (one line per problem, exit 1), and logging set up."""
    cfg = load(role)
    os.umask(0o077)
    log.setup(name(cfg), cfg.log_level, cfg.log_format)
    if cfg.log_format == "json":
        log.capture_stderr()
    return cfg


def run_until_exit(process):
    """Run a container's main process; exit with its code (1, logged, on a pgcluster error)."""
    try:
        code = process.run()
    except PgclusterError as exc:
        logger.error("%s", exc)
        code = 1
    sys.exit(code)


def verdict(result):
    healthy, message = result
    click.echo(message)
    sys.exit(0 if healthy else 1)
