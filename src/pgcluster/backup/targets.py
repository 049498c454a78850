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
    if kind == "latest" and value:
        return f"the latest state (LSN {value[1]} on timeline {value[0]})"
    return {"time": lambda: iso(value), "lsn": lambda: f"LSN {value}",
            "name": lambda: f"restore point {value!r}", "latest": lambda: "the latest state"}[kind]()


def walfile(timeline, lsn, segment_size=16 * 1024 * 1024):
    """The name of the WAL file that holds the last byte written before lsn on timeline (right after a segment
    switch, lsn is the next file's start and nothing of that file is needed)."""
    segment = max(0, parse_lsn(lsn) - 1) // segment_size
    per_id = 0x100000000 // segment_size
    return f"{timeline:08X}{segment // per_id:08X}{segment % per_id:08X}"


def parse_history(text):
    """A timeline history file as {ancestor timeline: the LSN where the next timeline branched off it}."""
    found = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[0].isdigit():
            found[int(fields[0])] = parse_lsn(fields[1])
    return found


END_MARGIN = 1024 * 1024  # bytes by which a backup's real end may lie after the end LSN Barman records


def iso(epoch):
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f+00:00")


def choose_backup(backups, target, history=None):
    """The backup to restore for a target, and the barman recover options that reach it.

    target: ("time", epoch) | ("lsn", "0/..") | ("name", restore point) | ("latest", (timeline, lsn) or None).
    A time or LSN needs the newest backup that ended before it (Barman refuses a target
    inside or before the backup); a restore point's position is unknown, so the oldest
    backup is used, which reaches any point in the recovery window. A target may lie on a
    later timeline than the backup (after a failover). The latest state is the primary's
    position on its timeline when the command started; a backup of a timeline the cluster
    has left reaches it only when it ended END_MARGIN before that timeline branched off
    (history: {ancestor timeline: branch LSN}, from the primary timeline's history file):
    Barman's end LSN was seen 4 KiB before the backup's real end (its minimum recovery
    point), so a backup ending just before the branch may hold WAL of the abandoned
    history, and PostgreSQL then refuses to start on it. Without a
    primary, the latest state is the end of the archive's newest timeline.
    """
    kind, value = target
    if kind == "latest" and value:
        timeline, lsn = value
        history = history or {}
        def reaches(b):  # on the timeline, or on an ancestor and ended well before the cluster branched off it
            end = parse_lsn(b["end_lsn"])
            branch = history.get(b["timeline"], -1)
            return end <= parse_lsn(lsn) and (b["timeline"] == timeline or end + END_MARGIN <= branch)

        usable = [b for b in backups if b["status"] == "DONE" and reaches(b)]
        if not usable:
            raise FatalError(f"No backup reaches LSN {lsn} on timeline {timeline}: none is done on that timeline, "
                             f"and the older ones end too close to where it branched off, or after.")
        return usable[-1], ["--target-lsn", lsn, "--target-tli", str(timeline), "--target-action", "promote"]
    backup, options = _choose(backups, target)
    if options:
        options += ["--target-tli", "latest", "--target-action", "promote"]
    elif kind == "latest":
        options = ["--target-tli", "latest"]
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
