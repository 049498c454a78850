"""The `pgcluster` command: container entrypoints, checks and operator tools (wiring only)."""
import logging
import os
import socket
import sys

import click

from . import config, log, tls
from .errors import ConfigError, FatalError, PgclusterError

logger = logging.getLogger("pgcluster")


def _fail(lines):
    for line in lines:
        click.echo(f"pgcluster: {line}", err=True)
    sys.exit(1)


def _load(role, judge=True):
    """The role's configuration, its TLS made this process's policy (libpq's and HTTPS's, children's too)."""
    try:
        cfg = config.load(role, judge=judge)
    except ConfigError as exc:
        _fail(exc.problems)
    tls.use(cfg.tls)
    return cfg


def _start(role, name):
    """A container's configuration (one line per problem, exit 1), and logging set up."""
    cfg = _load(role)
    os.umask(0o077)
    log.setup(name(cfg), cfg.log_level, cfg.log_format)
    if cfg.log_format == "json":
        log.capture_stderr()
    return cfg


def _run_until_exit(process):
    """Run a container's main process; exit with its code (1, logged, on a pgcluster error)."""
    try:
        code = process.run()
    except PgclusterError as exc:
        logger.error("%s", exc)
        code = 1
    sys.exit(code)


def _verdict(result):
    healthy, message = result
    click.echo(message)
    sys.exit(0 if healthy else 1)


@click.group()
def main():
    """Configure, supervise and check the postgis-cluster containers."""


# --- the node ------------------------------------------------------------------------------------
@main.group()
def node():
    """The PostgreSQL node container."""


@node.command("run")
def node_run():
    """Entrypoint: validate the environment, decide the role, run PostgreSQL and repmgrd."""
    from .node import datadir, files
    from .node.supervisor import Supervisor

    cfg = _start("node", lambda c: c.node_name)
    try:
        datadir.check_version(cfg.pgdata)
    except FatalError as exc:
        _fail([str(exc)])
    files.write_all(cfg)
    logger.info("Starting node %s (id %s) at %s in cluster %s.", cfg.node_name, cfg.node_id, cfg.host,
                cfg.cluster_name)
    _run_until_exit(Supervisor(cfg))


@node.command("service")
@click.argument("action", type=click.Choice(["start", "stop", "restart"]))
def node_service(action):
    """Start, stop or restart PostgreSQL through the supervisor (repmgr's service commands)."""
    from .node import service

    try:
        ok = service.request(action)
    except (OSError, FatalError) as exc:
        _fail([str(exc)])
    sys.exit(0 if ok else 1)


@node.command("validate-promotion")
@click.option("--host", required=True, help="This node's CLUSTER_NODE_NETWORK_NAME.")
@click.option("--voters", required=True, help="The first-level nodes, comma-separated, in listed order.")
@click.option("--port", type=int, required=True, help="STATUS_PORT.")
@click.option("--fence-timeout", type=float, required=True, help="FENCE_TIMEOUT.")
@click.option("--mode", required=True, help="CONSISTENCY_MODE.")
def node_validate_promotion(host, voters, port, fence_timeout, mode):
    """repmgrd's failover_validation_command: exit 0 when this standby may be promoted now."""
    from .node.promotion import validate

    tls.use(tls.installed())  # run by repmgrd, without the configuration
    # Silent until the verdict: repmgrd reads one line of output and closes the pipe.
    allowed, reason = validate(host, tuple(v for v in voters.split(",") if v), port, fence_timeout, mode)
    click.echo(("promotion allowed: " if allowed else "promotion refused: ") + reason)
    sys.exit(0 if allowed else 1)


# --- the router ----------------------------------------------------------------------------------
@main.group()
def pgpool():
    """The pgpool-II router container."""


@pgpool.command("run")
def pgpool_run():
    """Entrypoint: validate the environment, wait for backends, run pgpool and the attach watcher."""
    from .pgpool import files
    from .pgpool.router import Router

    cfg = _start("pgpool", lambda c: socket.gethostname())  # pgpool, pgpool2: which router says it
    files.write_all(cfg)
    _run_until_exit(Router(cfg))


def _where_am_i(command):
    """(configuration, the node hosts it names, the backup's (host, port) or ()) of this container."""
    role = config.role_here()
    if role is None:
        _fail([f"run {command} in a node, router or backup container (none of NODE_NAME, BACKENDS or "
               "REPLICATION_HOST is set here)."])
    cfg = _load(role, judge=False)
    if role == "node":
        seeds, backup = [cfg.host, *cfg.voters, *([cfg.upstream_host] if cfg.upstream_host else [])], cfg.backup
    elif role == "pgpool":
        seeds, backup = [b.host for b in cfg.backends], cfg.backup
    else:
        seeds, backup = list(cfg.hosts), ("localhost", cfg.metrics_port)
    return cfg, list(dict.fromkeys(seeds)), backup


@main.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON line per event instead of the table.")
def history(as_json):
    """In any container: every promotion, switchover, fence, unfence, rejoin and recovery, newest last."""
    import json

    from .cluster.endpoint import get_json
    from .cluster.overview import members

    cfg, seeds, _backup = _where_am_i("history")
    primary, nodes = members(seeds, cfg.status_port)
    running = [n["host"] for n in nodes if n["role"] in ("primary", "standby")]
    for host in dict.fromkeys([*([primary] if primary else []), *running]):  # the primary's copy is the newest
        events = get_json(host, cfg.status_port, "/history", timeout=5)
        if events is not None:
            break
    else:
        _fail(["no running node answered /history on its status port."])
    for e in events:
        click.echo(json.dumps(e) if as_json else
                   f"{e['at'][:23]}  {e['node']:<7} {e['event']:<24} {e['timeline'] or '-':>3}  {e['reason']}")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON document instead of the tables.")
def status(as_json):
    """In any container: every node's role, upstream, lag, timeline and fence, both routers' views (pgpool's
    backends, PgBouncer's target and pools), and the last backup."""
    import json

    from .cluster.overview import gather, render

    cfg, seeds, backup = _where_am_i("status")
    found = gather(seeds, cfg.routers, backup, cfg.status_port)
    click.echo(json.dumps(found, indent=2) if as_json else "\n".join(render(found, bool(backup))))


@main.command()
@click.option("--to", "target", help="The standby to promote (default: the one repmgr's election would pick).")
@click.option("--timeout", type=float, default=30.0, show_default=True,
              help="Seconds the target may take to replay the primary's last WAL before the switchover is abandoned.")
def switchover(target, timeout):
    """In a router or node container: move the primary to a standby, pausing PgBouncer instead of failing
    transactions."""
    from .switchover import Switchover, SwitchoverError

    role = config.role_here()
    if role not in ("node", "pgpool"):
        _fail(["run the switchover in a router or node container (it needs ROUTERS and CONTROL_PASSWORD)."])
    cfg = _load(role)
    log.setup("switchover", cfg.log_level, cfg.log_format)
    nodes = [b.host for b in cfg.backends] if role == "pgpool" else list(cfg.voters)
    try:
        said = Switchover(nodes, cfg.routers, cfg.status_port, cfg.control_password).run(target, timeout)
    except SwitchoverError as exc:
        _fail([str(exc)])
    click.echo(f"switchover done: {said}")


# --- backups -------------------------------------------------------------------------------------
@main.group("barman")
def barman_group():
    """The Barman backup container."""


@barman_group.command("run")
def barman_run():
    """Entrypoint: stream WAL, take scheduled backups, run maintenance, serve /metrics."""
    from .backup import files
    from .backup.scheduler import Scheduler

    cfg = _start("barman", lambda c: "backup")
    files.write_all(cfg)
    _run_until_exit(Scheduler(cfg))


@main.command()
@click.option("--incremental", is_flag=True, help="Copy only what changed since the newest backup.")
def backup(incremental):
    """In the backup container: take a base backup now; returns once it is complete."""
    from .backup.scheduler import take_backup

    cfg = _load("barman")
    log.setup("backup", cfg.log_level, cfg.log_format)
    try:
        backup_id = take_backup(cfg, "incremental" if incremental else "full")
    except PgclusterError as exc:
        _fail([str(exc)])
    click.echo(f"Backup {backup_id} is complete.")


@main.command()
@click.option("--target-time", help="Recover to this time (ISO 8601; UTC unless it names a zone).")
@click.option("--target-lsn", help="Recover to this WAL position, such as 0/3000148.")
@click.option("--target-name", help="Recover to this restore point (pg_create_restore_point).")
@click.option("--latest", is_flag=True, help="Recover everything the backups hold.")
@click.option("--primary", help="The node to become the primary (default: the current primary).")
@click.option("--into", type=click.Path(), help="Only restore into this new directory, for inspection.")
def recover(target_time, target_lsn, target_name, latest, primary, into):
    """In the backup container: restore the cluster to a point in time."""
    from .backup import recovery, targets

    try:
        target = targets.parse(target_time, target_lsn, target_name, latest)
    except ConfigError as exc:
        _fail(exc.problems)
    cfg = _load("barman")
    log.setup("recover", cfg.log_level, cfg.log_format)
    try:
        if into:
            backup, reached = recovery.restore(cfg, target, into)
            click.echo(f"Restored backup {backup['id']} into {into}, up to {targets.describe(reached)}.")
        else:
            new_primary = recovery.recover_cluster(cfg, target, primary)
            click.echo(f"The cluster is back at {targets.describe(target)}; {new_primary} is the primary.")
    except PgclusterError as exc:
        _fail([str(exc)])


# --- configuration -------------------------------------------------------------------------------
@main.group("config")
def config_group():
    """Check the environment, or print the variable reference."""


@config_group.command("check")
@click.option("--role", type=click.Choice(sorted(config.LOADERS)), default="node", show_default=True)
def config_check(role):
    """Validate the environment for a role exactly as its entrypoint does; print the settings (secrets hidden)."""
    for line in config.describe(role, _load(role)):
        click.echo(line)


@config_group.command("doc")
def config_doc():
    """Print doc/CONFIGURATION.md, generated from the spec table."""
    click.echo(config.markdown(), nl=False)


# --- health checks -------------------------------------------------------------------------------
@main.group()
def health():
    """Health checks (exit 0 healthy, 1 not); healthchecks/ calls these."""


@health.command("is-major-master")
def health_is_major_master():
    """Healthy unless this node is a primary that a majority of its partners does not follow."""
    from .node.health import is_major_master

    _verdict(is_major_master(_load("node", judge=False)))


@health.command("has-write-node")
def health_has_write_node():
    """Healthy when pgpool has an attached primary to send writes to."""
    from .pgpool.health import has_write_node

    _verdict(has_write_node(_load("pgpool", judge=False)))


@health.command("has-enough-backends")
@click.argument("count", type=int, required=False)
def health_has_enough_backends(count):
    """Healthy when at least COUNT backends are up in pgpool (default REQUIRE_MIN_BACKENDS, at least 1)."""
    from .pgpool.health import has_enough_backends

    cfg = _load("pgpool", judge=False)
    _verdict(has_enough_backends(cfg, count if count is not None else max(1, cfg.require_min_backends)))


@health.command("is-alive")
def health_is_alive():
    """Healthy while this container's supervisor answers on its status port (a node's /liveness, a router's
    /router, the backup's /backup): Docker Swarm restarts a task whose health check fails, so its stacks use this
    one, which fails only when the supervisor itself no longer works."""
    from .cluster.endpoint import alive

    role = config.role_here()
    if role is None:
        _fail(["no pgcluster container here: NODE_NAME, BACKENDS or REPLICATION_HOST is not set."])
    cfg = _load(role, judge=False)
    if role == "barman":
        _verdict(alive("127.0.0.1", cfg.metrics_port, "/backup"))
    _verdict(alive("127.0.0.1", cfg.status_port, "/liveness" if role == "node" else "/router"))


@health.command("barman-check")
def health_barman_check():
    """Healthy when `barman check` passes: WAL streaming, a backup, the retention policy."""
    from .backup.health import barman_check

    _verdict(barman_check(_load("barman", judge=False)))
