"""`pgcluster status` in any container: every node, both routers' views and the last backup, in one picture.

gather() asks the status endpoints (the nodes' /status, the routers' /router, the backup's /backup);
render() turns the answer into the table an operator reads. Every node a running node knows from the
repmgr metadata is asked too, so the cascade shows wherever the command runs.
"""
from datetime import datetime, timezone

from .. import tls
from .endpoint import ask_all, get_json
from .primary import find_primary, lag_behind


def members(seeds, port, timeout=2.0):
    """(the primary's host or None, [every node's row]): the seeds asked, and every node they know."""
    statuses = ask_all(seeds, port, timeout)
    more = sorted({m for s in statuses.values() for m in s.members if m} - set(statuses))
    if more:
        statuses.update(ask_all(more, port, timeout))
    primary = find_primary(statuses.values())
    nodes = []
    for status in sorted(statuses.values(), key=lambda s: (s.node_id or 1 << 31, s.host)):
        lag = lag_behind(status, primary) if primary and status.is_standby else None
        nodes.append({"host": status.host, "node": status.node, "reachable": status.reachable,
                      "role": status.role if status.running else "stopped" if status.reachable else "unknown",
                      "state": status.state.value, "reason": status.reason, "upstream": status.upstream,
                      "streaming": status.streaming, "timeline": status.timeline, "lag_bytes": lag,
                      "fenced": status.fenced, "priority": status.priority, "tls_expires": status.tls_expires})
    return (primary.host if primary else None), nodes


def gather(seeds, routers, backup, port, timeout=2.0):
    """{"primary", "nodes": [...], "routers": {host: view or None}, "backup": summary or None}.
    seeds: the node hosts this container knows; backup: (host, port) or ()."""
    primary, nodes = members(seeds, port, timeout)
    return {"primary": primary, "nodes": nodes,
            "routers": {r: get_json(r, port, "/router", timeout) for r in routers},
            "backup": get_json(backup[0], backup[1], "/backup", timeout) if backup else None}


def _size(n):
    if n is None:
        return "-"
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024


def _when(epoch):
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC") if epoch else "-"


def node_lines(found):
    lines = [f"Nodes (primary: {found['primary'] or 'none'})",
             f"  {'host':<12} {'node':<7} {'role':<8} {'upstream':<12} {'state':<13} {'timeline':>8} "
             f"{'lag':>9}  fenced"]
    for n in found["nodes"]:
        state = n["state"] if n["reachable"] else "no answer"
        lines.append(f"  {n['host']:<12} {n['node'] or '-':<7} {n['role']:<8} {n['upstream'] or '-':<12} "
                     f"{state:<13} {n['timeline'] or '-':>8} {_size(n['lag_bytes']):>9}  "
                     f"{'yes' if n['fenced'] else 'no'}")
        if n["reason"] and n["state"] != "running":
            lines.append(f"  {'':<12} {n['reason']}")
    return lines


def router_lines(found):
    lines = ["Routers"]
    for router, view in found["routers"].items():
        if view is None:
            lines.append(f"  {router}: no answer")
            continue
        pool = view.get("pgpool", {})
        lines.append(f"  {router}: pgpool: {pool.get('says') or pool.get('error')}")
        for node in pool.get("nodes", []):
            lines.append(f"    {node['id']:>2} {node['host']:<12} {node['status']:<6} {node['role']:<8} "
                         f"weight {node['weight']:g}")
        bouncer = view.get("pgbouncer", {})
        readers = ", ".join(bouncer.get("readers") or []) or "-"
        lines.append(f"  {router}: PgBouncer writes to {bouncer.get('primary') or '-'}, reads to {readers}"
                     f"{' (paused)' if bouncer.get('paused') else ''}")
        if bouncer.get("error"):
            lines.append(f"    {bouncer['error']}")
        for p in bouncer.get("pools", []):
            lines.append(f"    pool {p.get('database')}/{p.get('user')} ({p.get('pool_mode')}): "
                         f"{p.get('cl_active')} clients active, {p.get('cl_waiting')} waiting; "
                         f"{p.get('sv_active')} server connections active, {p.get('sv_idle')} idle")
    if not found["routers"]:
        lines.append("  none configured (ROUTERS)")
    return lines


def backup_lines(found, configured):
    if not configured:
        return []
    backup = found["backup"]
    if backup is None:
        return ["Backup", "  no answer"]
    last = backup.get("last_backup")
    delay = backup.get("wal_archive_delay_seconds")
    return ["Backup",
            f"  {backup.get('backups', 0)} backups kept; last: "
            + (f"{last['id']} ({last['kind']}, ended {_when(last['end'])}, timeline {last['timeline']})"
               if last else "none yet"),
            f"  barman check {'passes' if backup.get('check_ok') else 'FAILS'}; newest WAL archived "
            + (f"{delay:.0f} s ago" if delay is not None else "never")]


def certificate_lines(found, now=None):
    """A line for each container whose TLS certificate expires within tls.EXPIRY_WARNING_DAYS, or one line that
    none does."""
    expiry = {n["host"]: n.get("tls_expires") for n in found["nodes"] if n["reachable"]}
    expiry.update({r: v.get("tls_expires") for r, v in found["routers"].items() if v})
    if found.get("backup"):
        expiry["backup"] = found["backup"].get("tls_expires")
    known = {host: when for host, when in expiry.items() if when}
    if not known:
        return ["Certificates", "  TLS is off"]
    said = {host: tls.expiry_warning(when, now) for host, when in sorted(known.items())}
    warnings = [f"  {host}: {warning}" for host, warning in said.items() if warning]
    first = min(known, key=known.get)
    return ["Certificates"] + (warnings or [f"  {len(known)} in use, none expires within {tls.EXPIRY_WARNING_DAYS} "
                                            f"days (first: {first}, on {_when(known[first])[:10]})"])


def render(found, backup_configured=True):
    return (node_lines(found) + router_lines(found) + backup_lines(found, backup_configured)
            + certificate_lines(found))
