"""Recovery targets: parsed from the command line, described, and matched to a backup (pure)."""
from datetime import datetime, timezone

from ..cluster.lsn import format_lsn, parse_lsn
from ..errors import ConfigError, FatalError


def parse(target_time=None, target_lsn=None, target_name=None, latest=False):
    """The one target given to `pgcluster recover`, as (kind, value); ConfigError when not exactly one, or a
    time that is not ISO 8601. A time is epoch seconds (UTC unless it names a zone)."""
    chosen = [(k, v) for k, v in (("time", target_time), ("lsn", target_lsn), ("name", target_name),
                                  ("latest", latest or None)) if v]
    if len(chosen) != 1:
        raise ConfigError(["give exactly one of --target-time, --target-lsn, --target-name or --latest."])
    kind, value = chosen[0]
    if kind == "time":
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ConfigError([f"--target-time={value!r} is not valid: expected an ISO 8601 time, such as "
                               "'2026-11-22 10:15:00' (UTC) or '2026-11-22T10:15:00+01:00'."]) from None
        value = (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp()
    if kind == "latest":
        value = None
    return kind, value


def describe(target):
    kind, value = target
    return {"time": lambda: iso(value), "lsn": lambda: f"LSN {value}",
            "name": lambda: f"restore point {value!r}", "latest": lambda: "the latest state"}[kind]()


def iso(epoch):
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f+00:00")


def choose_backup(backups, target):
    """The backup to restore for a target, and the barman recover options that reach it.

    target: ("time", epoch) | ("lsn", "0/..") | ("name", restore point) | ("latest", None).
    A time or LSN needs the newest backup that ended before it (Barman refuses a target
    inside or before the backup); a restore point's position is unknown, so the oldest
    backup is used, which reaches any point in the recovery window. A target may lie on a
    later timeline than the backup (after a failover); the latest state needs no target.
    """
    backup, options = _choose(backups, target)
    if options:
        options += ["--target-tli", "latest", "--target-action", "promote"]
    return backup, options


def _choose(backups, target):
    done = [b for b in backups if b["status"] == "DONE"]
    if not done:
        raise FatalError("There is no completed backup to recover from.")
    kind, value = target
    if kind == "time":
        usable = [b for b in done if b["end"] and b["end"] < value]
        if not usable:
            raise FatalError(f"No backup ended before {iso(value)}; the oldest ended at {iso(done[0]['end'])}.")
        return usable[-1], ["--target-time", iso(value)]
    if kind == "lsn":
        usable = [b for b in done if parse_lsn(b["end_lsn"]) <= parse_lsn(value)]
        if not usable:
            raise FatalError(f"No backup ended before LSN {value}; the oldest ended at {done[0]['end_lsn']}.")
        return usable[-1], ["--target-lsn", format_lsn(parse_lsn(value))]
    if kind == "name":
        return done[0], ["--target-name", value]
    return done[-1], []
