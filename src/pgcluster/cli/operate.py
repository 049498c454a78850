"""The operator's commands, in any container: status, history, switchover, backup, recover."""
import click

from .. import config, log
from ..errors import ConfigError, PgclusterError
from .common import fail, load


def where_am_i(command):
    """(configuration, the node hosts it names, the backup's (host, port) or ()) of this container."""
    role = config.role_here()
    if role is None:
        fail([f"run {command} in a node, router or backup container (none of NODE_NAME, BACKENDS or "
               "REPLICATION_HOST is set here)."])
    cfg = load(role, judge=False)
    if role == "node":
        seeds, backup = [cfg.host, *cfg.voters, *([cfg.upstream_host] if cfg.upstream_host else [])], cfg.backup
    elif role == "pgpool":
        seeds, backup = [b.host for b in cfg.backends], cfg.backup
    else:
        seeds, backup = list(cfg.hosts), ("localhost", cfg.metrics_port)
    return cfg, list(dict.fromkeys(seeds)), backup


@click.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON line per event instead of the table.")
def history(as_json):
    """In any container: every promotion, switchover, fence, unfence, rejoin and recovery, newest last."""
    import json

    from ..cluster.endpoint import get_json
    from ..cluster.overview import members

    cfg, seeds, _backup = where_am_i("history")
    primary, nodes = members(seeds, cfg.status_port)
    running = [n["host"] for n in nodes if n["role"] in ("primary", "standby")]
    for host in dict.fromkeys([*([primary] if primary else []), *running]):  # the primary's copy is the newest
        events = get_json(host, cfg.status_port, "/history", timeout=5)
        if events is not None:
            break
    else:
        fail(["no running node answered /history on its status port."])
    for e in events:
        click.echo(json.dumps(e) if as_json else
                   f"{e['at'][:23]}  {e['node']:<7} {e['event']:<24} {e['timeline'] or '-':>3}  {e['reason']}")


@click.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON document instead of the tables.")
def status(as_json):
    """In any container: every node's role, upstream, lag, timeline and fence, both routers' views (pgpool's
    backends, PgBouncer's target and pools), and the last backup."""
    import json

    from ..cluster.overview import gather, render

    cfg, seeds, backup = where_am_i("status")
    found = gather(seeds, cfg.routers, backup, cfg.status_port)
    click.echo(json.dumps(found, indent=2) if as_json else "\n".join(render(found, bool(backup))))


@click.command()
@click.option("--to", "target", help="The standby to promote (default: the one repmgr's election would pick).")
@click.option("--timeout", type=float, default=30.0, show_default=True,
              help="Seconds the target may take to replay the primary's last WAL before the switchover is abandoned.")
def switchover(target, timeout):
    """In a router or node container: move the primary to a standby, pausing PgBouncer instead of failing
    transactions."""
    from ..switchover import Switchover, SwitchoverError

    role = config.role_here()
    if role not in ("node", "pgpool"):
        fail(["run the switchover in a router or node container (it needs ROUTERS and CONTROL_PASSWORD)."])
    cfg = load(role)
    log.setup("switchover", cfg.log_level, cfg.log_format)
    nodes = [b.host for b in cfg.backends] if role == "pgpool" else list(cfg.voters)
    try:
        said = Switchover(nodes, cfg.routers, cfg.status_port, cfg.control_password).run(target, timeout)
    except SwitchoverError as exc:
        fail([str(exc)])
    click.echo(f"switchover done: {said}")


@click.command()
@click.option("--incremental", is_flag=True, help="Copy only what changed since the newest backup.")
def backup(incremental):
    """In the backup container: take a base backup now; returns once it is complete."""
    from ..backup.scheduler import take_backup

    cfg = load("barman")
    log.setup("backup", cfg.log_level, cfg.log_format)
    try:
        backup_id = take_backup(cfg, "incremental" if incremental else "full")
    except PgclusterError as exc:
        fail([str(exc)])
    click.echo(f"Backup {backup_id} is complete.")


@click.command()
@click.option("--target-time", help="Recover to this time (ISO 8601; UTC unless it names a zone).")
@click.option("--target-lsn", help="Recover to this WAL position, such as 0/3000148.")
@click.option("--target-name", help="Recover to this restore point (pg_create_restore_point).")
@click.option("--latest", is_flag=True, help="Recover everything the backups hold.")
@click.option("--primary", help="The node to become the primary (default: the current primary).")
@click.option("--into", type=click.Path(), help="Only restore into this new directory, for inspection.")
def recover(target_time, target_lsn, target_name, latest, primary, into):
    """In the backup container: restore the cluster to a point in time."""
    from ..backup import recovery, targets

    try:
        target = targets.parse(target_time, target_lsn, target_name, latest)
    except ConfigError as exc:
        fail(exc.problems)
    cfg = load("barman")
    log.setup("recover", cfg.log_level, cfg.log_format)
    try:
        if into:
            backup, reached = recovery.restore(cfg, target, into)
            click.echo(f"Restored backup {backup['id']} into {into}, up to {targets.describe(reached)}.")
        else:
            new_primary = recovery.recover_cluster(cfg, target, primary)
            click.echo(f"The cluster is back at {targets.describe(target)}; {new_primary} is the primary.")
    except PgclusterError as exc:
        fail([str(exc)])
