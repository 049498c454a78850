"""The containers' entrypoints and the commands repmgr runs in a node: `pgcluster node|pgpool|barman ...`."""
import socket
import sys

import click

from .. import tls
from ..errors import FatalError
from .common import fail, logger, run_until_exit, start


# --- the node ------------------------------------------------------------------------------------
@click.group()
def node():
    """The PostgreSQL node container."""


@node.command("run")
def node_run():
    """Entrypoint: validate the environment, decide the role, run PostgreSQL and repmgrd."""
    from ..node import datadir, files
    from ..node.supervisor import Supervisor

    cfg = start("node", lambda c: c.node_name)
    try:
        datadir.check_version(cfg.pgdata)
    except FatalError as exc:
        fail([str(exc)])
    files.write_all(cfg)
    logger.info("Starting node %s (id %s) at %s in cluster %s.", cfg.node_name, cfg.node_id, cfg.host,
                cfg.cluster_name)
    run_until_exit(Supervisor(cfg))


@node.command("service")
@click.argument("action", type=click.Choice(["start", "stop", "restart"]))
def node_service(action):
    """Start, stop or restart PostgreSQL through the supervisor (repmgr's service commands)."""
    from ..node import service

    try:
        ok = service.request(action)
    except (OSError, FatalError) as exc:
        fail([str(exc)])
    sys.exit(0 if ok else 1)


@node.command("validate-promotion")
@click.option("--host", required=True, help="This node's CLUSTER_NODE_NETWORK_NAME.")
@click.option("--voters", required=True, help="The first-level nodes, comma-separated, in listed order.")
@click.option("--port", type=int, required=True, help="STATUS_PORT.")
@click.option("--fence-timeout", type=float, required=True, help="FENCE_TIMEOUT.")
@click.option("--mode", required=True, help="CONSISTENCY_MODE.")
def node_validate_promotion(host, voters, port, fence_timeout, mode):
    """repmgrd's failover_validation_command: exit 0 when this standby may be promoted now."""
    from ..node.promotion import validate

    tls.use(tls.installed())  # run by repmgrd, without the configuration
    # Silent until the verdict: repmgrd reads one line of output and closes the pipe.
    allowed, reason = validate(host, tuple(v for v in voters.split(",") if v), port, fence_timeout, mode)
    click.echo(("promotion allowed: " if allowed else "promotion refused: ") + reason)
    sys.exit(0 if allowed else 1)


# --- the router ----------------------------------------------------------------------------------
@click.group()
def pgpool():
    """The pgpool-II router container."""


@pgpool.command("run")
def pgpool_run():
    """Entrypoint: validate the environment, wait for backends, run pgpool and the attach watcher."""
    from ..pgpool import files
    from ..pgpool.router import Router

    cfg = start("pgpool", lambda c: socket.gethostname())  # pgpool, pgpool2: which router says it
    files.write_all(cfg)
    run_until_exit(Router(cfg))


# --- backups -------------------------------------------------------------------------------------
@click.group("barman")
def barman_group():
    """The Barman backup container."""


@barman_group.command("run")
def barman_run():
    """Entrypoint: stream WAL, take scheduled backups, run maintenance, serve /metrics."""
    from ..backup import files
    from ..backup.scheduler import Scheduler

    cfg = start("barman", lambda c: "backup")
    files.write_all(cfg)
    run_until_exit(Scheduler(cfg))
