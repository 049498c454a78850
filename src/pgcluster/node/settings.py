"""CONFIGS for PostgreSQL, judged by PostgreSQL itself before anything is written."""
import os
import re
import tempfile

from .. import proc, render
from . import paths

# Settings pgcluster sets itself; CONFIGS may not change them.
MANAGED = frozenset({
    "data_directory", "config_file", "hba_file", "ident_file", "port", "unix_socket_directories",
    "primary_conninfo", "primary_slot_name", "listen_addresses",
})


def problems(settings, judged=True):
    """Problems with CONFIGS: [] when pgcluster does not manage any of them and (judged) PostgreSQL accepts
    every name and value."""
    managed = sorted(name for name in settings if name in MANAGED)
    if managed:
        return [f"CONFIGS sets {', '.join(managed)}, which pgcluster manages; remove it from CONFIGS."]
    return judge(settings) if settings and judged else []


def judge(settings):
    """What this image's postgres binary says of the settings: [] or one problem with its messages."""
    if not os.path.exists(paths.POSTGRES):
        return [f"CONFIGS cannot be judged here: {paths.POSTGRES} is missing; check a node's settings in the "
                "node image."]
    with tempfile.TemporaryDirectory(prefix="configs-check.") as tmp:
        path = os.path.join(tmp, "check.conf")
        with open(path, "w", encoding="utf-8") as handle:
            for name, value in settings.items():
                handle.write(f"{name} = {render.pg_string(value)}\n")
        result = proc.run([paths.POSTGRES, "-D", tmp, "-c", f"config_file={path}", "-C", "port"],
                          timeout=30, check=False)
    if result.returncode == 0:
        return []
    messages = []
    for line in result.stderr.splitlines():
        message = re.sub(r"^.*?\b(LOG|FATAL|ERROR|HINT):\s+", "", line).strip()
        message = re.sub(r' in file ".*?" line \d+', "", message)
        if ("parameter" in message or message.startswith("Available values")) and message not in messages:
            messages.append(message)
    detail = "; ".join(messages) or result.stderr.strip()
    return [f"CONFIGS is not valid: {detail}. Expected name:value pairs that PostgreSQL {paths.PG_MAJOR} accepts."]
