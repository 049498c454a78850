"""Prometheus metrics of the backups, and the facts they come from.

Facts are read from Barman's own files (backup.info of each backup, the WAL
catalogue xlog.db) and `barman check`; render() is pure, refresh() caches the
text that the /metrics endpoint serves.
"""
import glob
import json
import logging
import os
import shutil
import threading
import time
from datetime import datetime

from .. import httpserve, prometheus, tls
from ..parsers import key_values
from . import barman

logger = logging.getLogger(__name__)

_latest = {"text": "", "summary": {}, "lock": threading.Lock()}


def parse_info(text):
    """A backup.info file as a dict of strings."""
    return key_values(text, "=")


def _timestamp(value):
    try:
        return datetime.fromisoformat(value).timestamp()
    except (TypeError, ValueError):
        return None


def _int(value):
    """An integer field of backup.info; 'None' (a backup still running) and blanks count as 0."""
    return int(value) if value and value.isdigit() else 0


def info_files(cfg):
    """{backup id: path of its backup.info}: meta/<id>-backup.info since Barman 3.13.2, base/<id>/backup.info
    before it (and for backups taken then)."""
    server = os.path.join(cfg.backup_dir, cfg.server)
    found = {os.path.basename(os.path.dirname(p)): p
             for p in glob.glob(os.path.join(server, "base", "*", "backup.info"))}
    found.update({os.path.basename(p)[:-len("-backup.info")]: p
                  for p in glob.glob(os.path.join(server, "meta", "*-backup.info"))})
    return found


def backups(cfg):
    """Every backup of the server, oldest first: id, status, kind (full or incremental), parent, begin/end
    (epoch), end_lsn, size, timeline."""
    found = []
    for backup_id, path in info_files(cfg).items():
        with open(path, encoding="utf-8") as handle:
            info = parse_info(handle.read())
        parent = info.get("parent_backup_id") or "None"
        found.append({"id": info.get("backup_id") or backup_id, "status": info.get("status", ""),
                      "kind": "full" if parent == "None" else "incremental",
                      "parent": None if parent == "None" else parent,
                      "begin": _timestamp(info.get("begin_time")), "end": _timestamp(info.get("end_time")),
                      "end_lsn": info.get("end_xlog", ""), "size": _int(info.get("size")),
                      "timeline": _int(info.get("timeline"))})
    return sorted(found, key=lambda b: b["end"] or 0)


def done_backups(cfg):
    return [b for b in backups(cfg) if b["status"] == "DONE"]


def archived_wals(cfg):
    """[(WAL file name, epoch it was archived)] from Barman's WAL catalogue, oldest first: wals/<server>-xlog.db
    since Barman 3.13, wals/xlog.db before."""
    wals = os.path.join(cfg.backup_dir, cfg.server, "wals")
    for name in (f"{cfg.server}-xlog.db", "xlog.db"):
        try:
            with open(os.path.join(wals, name), encoding="utf-8") as handle:
                lines = handle.read().splitlines()
        except OSError:
            continue
        return [(f[0], float(f[2])) for f in (line.split("\t") for line in lines) if len(f) >= 3]
    return []


def last_wal_time(cfg):
    """When the newest WAL file reached the archive (epoch)."""
    found = archived_wals(cfg)
    return found[-1][1] if found else None


METRICS = (
    ("barman_check_ok", "1 when every `barman check` item passes, 0 otherwise."),
    ("barman_backups", "Number of completed base backups kept."),
    ("barman_last_backup_end_timestamp_seconds", "When the newest completed base backup ended (Unix time)."),
    ("barman_last_backup_duration_seconds", "How long the newest completed base backup took."),
    ("barman_last_backup_size_bytes", "Size of the newest completed base backup."),
    ("barman_incremental_backups", "Number of completed incremental base backups kept (part of barman_backups)."),
    ("barman_last_incremental_backup_end_timestamp_seconds",
     "When the newest completed incremental base backup ended (Unix time)."),
    ("barman_last_incremental_backup_size_bytes", "Size of the newest completed incremental base backup."),
    ("barman_wal_archive_delay_seconds", "Seconds since the newest WAL file reached the archive."),
    ("barman_disk_free_bytes", "Free space on the volume holding the backups."),
    ("barman_disk_size_bytes", "Size of the volume holding the backups."),
)


def render(server, values):
    """Prometheus text exposition: HELP and TYPE for each metric; absent values are left out."""
    return prometheus.render([(name, "gauge", doc) for name, doc in METRICS],
                             [(name, {"server": server}, values.get(name)) for name, _ in METRICS])


def collect(cfg, now=None):
    now = time.time() if now is None else now
    done = done_backups(cfg)
    last = done[-1] if done else None
    incremental = [b for b in done if b["kind"] == "incremental"]
    last_incremental = incremental[-1] if incremental else None
    check = barman.run("check", cfg.server, check=False, timeout=60)
    wal_time = last_wal_time(cfg)
    disk = shutil.disk_usage(cfg.backup_dir)
    return {
        "barman_check_ok": 1 if check.returncode == 0 else 0,
        "barman_backups": len(done),
        "barman_last_backup_end_timestamp_seconds": last["end"] if last else None,
        "barman_last_backup_duration_seconds": (last["end"] - last["begin"]) if last and last["begin"] else None,
        "barman_last_backup_size_bytes": last["size"] if last else None,
        "barman_incremental_backups": len(incremental),
        "barman_last_incremental_backup_end_timestamp_seconds": last_incremental["end"] if last_incremental else None,
        "barman_last_incremental_backup_size_bytes": last_incremental["size"] if last_incremental else None,
        "barman_wal_archive_delay_seconds": max(0.0, now - wal_time) if wal_time else None,
        "barman_disk_free_bytes": disk.free,
        "barman_disk_size_bytes": disk.total,
    }


def summary(cfg, values):
    """What `pgcluster status` shows of the backups (GET /backup): the last one, the count, the checks."""
    done = done_backups(cfg)
    last = done[-1] if done else None
    return {"check_ok": bool(values.get("barman_check_ok")), "backups": len(done),
            "last_backup": {k: last[k] for k in ("id", "kind", "end", "timeline", "size")} if last else None,
            "wal_archive_delay_seconds": values.get("barman_wal_archive_delay_seconds"), "tls_expires": tls.expires()}


def refresh(cfg):
    values = collect(cfg)
    text, found = render(cfg.server, values) + tls.metrics("backup"), summary(cfg, values)
    with _latest["lock"]:
        _latest["text"], _latest["summary"] = text, found


def serve(port):
    """Serve the latest metrics text on /metrics and the summary on /backup; return the server."""

    def latest(key):
        with _latest["lock"]:
            return _latest[key]

    return httpserve.serve(port, get={"/metrics": (prometheus.CONTENT_TYPE, lambda _q: latest("text")),
                                      "/backup": ("application/json", lambda _q: json.dumps(latest("summary")))})
