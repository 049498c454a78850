"""pgpool's control port: node status, attach, detach and which node is primary, through the PCP tools."""
import time
from typing import NamedTuple

from .. import proc
from ..parsers import key_values
from . import paths

STATUS_NAMES = {"0": "init", "1": "up", "2": "up", "3": "down", "4": "unused"}


class PoolNode(NamedTuple):
    """One backend as pgpool sees it."""
    host: str
    port: int
    status: str  # up, down, init, unused
    weight: float
    role: str    # primary, standby


def _run(cfg, tool, *args, timeout=10):
    env = {"PATH": "/usr/sbin:/usr/bin:/bin", "PCPPASSFILE": paths.PCPPASS, "HOME": "/var/lib/postgresql"}
    return proc.run([tool, "-h", "localhost", "-p", str(paths.PCP_PORT), "-U", cfg.pcp_user, "-w", *args],
                    timeout=timeout, env=env).stdout


def parse_node_info(text):
    """One node of `pcp_node_info -v` output."""
    fields = key_values(text, ":", lower=True)
    return PoolNode(host=fields.get("hostname", ""), port=int(fields.get("port") or 0),
                    status=STATUS_NAMES.get(fields.get("status", ""), fields.get("status name", "")),
                    weight=float(fields.get("weight") or 0), role=fields.get("role", ""))


_latest = {"at": -1e9, "nodes": {}}  # the newest answer of nodes() in this process


def nodes(cfg):
    """{num: PoolNode} for every backend in BACKENDS, as pgpool sees it now (one PCP call)."""
    blocks = [parse_node_info(block) for block in _run(cfg, "pcp_node_info", "-v").split("\n\n") if block.strip()]
    by_address = {(n.host, n.port): n for n in blocks}
    found = {b.num: by_address[(b.host, b.port)] for b in cfg.backends if (b.host, b.port) in by_address}
    _latest.update(at=time.monotonic(), nodes=found)
    return found


def recent_nodes(cfg, max_age=3.0):
    """nodes(), or its answer of the last max_age seconds: the router's watcher asks every 2 s, and a PCP
    call costs about 80 ms, most of a metrics scrape."""
    if time.monotonic() - _latest["at"] <= max_age:
        return _latest["nodes"]
    return nodes(cfg)


def attach(cfg, num):
    _run(cfg, "pcp_attach_node", "-n", str(num))


def detach(cfg, num):
    _run(cfg, "pcp_detach_node", "-n", str(num))


def recognise(cfg, num):
    """pgpool takes node num for the primary (it promotes nothing in PostgreSQL) and detaches the others,
    which the watcher attaches again."""
    _run(cfg, "pcp_promote_node", "-n", str(num))
