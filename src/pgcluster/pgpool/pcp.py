"""pgpool's control port: node status, attach and detach, through the PCP tools."""
from .. import proc
from . import files

STATUS_NAMES = {"0": "init", "1": "up", "2": "up", "3": "down", "4": "unused"}


def _run(cfg, tool, *args, timeout=10):
    env = {"PATH": "/usr/sbin:/usr/bin:/bin", "PCPPASSFILE": files.PCPPASS, "HOME": "/var/lib/postgresql"}
    return proc.run([tool, "-h", "localhost", "-p", str(files.PCP_PORT), "-U", cfg.pcp_user, "-w", *args],
                    timeout=timeout, env=env).stdout


def parse_node_info(text):
    """pcp_node_info -v output -> {"host", "port", "status", "weight", "role"}."""
    fields = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip().lower()] = value.strip()
    return {"host": fields.get("hostname", ""), "port": int(fields.get("port") or 0),
            "status": STATUS_NAMES.get(fields.get("status", ""), fields.get("status name", "")),
            "weight": float(fields.get("weight") or 0),
            "role": fields.get("role", "")}


def nodes(cfg):
    """{num: node info} for every backend in BACKENDS, as pgpool sees it now (one PCP call)."""
    blocks = [parse_node_info(block) for block in _run(cfg, "pcp_node_info", "-v").split("\n\n") if block.strip()]
    by_address = {(n["host"], n["port"]): n for n in blocks}
    return {b.num: by_address[(b.host, b.port)] for b in cfg.backends if (b.host, b.port) in by_address}


def attach(cfg, num):
    _run(cfg, "pcp_attach_node", "-n", str(num))


def detach(cfg, num):
    _run(cfg, "pcp_detach_node", "-n", str(num))
