"""The data directory: what its files say, and the markers pgcluster leaves in it."""
import logging
import os
import shutil
from dataclasses import dataclass

from .. import proc
from ..cluster.lsn import parse_lsn
from ..cluster.plan import RESTORED_MARKER
from ..errors import FatalError
from ..parsers import key_values
from . import autoconf, paths

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DataFacts:
    """What the files alone say; a half-finished clone counts as no data."""
    has_data: bool
    was_primary: bool = False
    timeline: int = 0
    lsn: int = 0
    state: str = ""  # pg_controldata's "Database cluster state"


def _exists(pgdata, name):
    return os.path.exists(os.path.join(pgdata, name))


def has_data(pgdata):
    return _exists(pgdata, "PG_VERSION")


def check_version(pgdata):
    """FatalError, naming both versions, when PGDATA holds a data directory of another PostgreSQL major
    version than this image's; the directory is only read."""
    if not has_data(pgdata):
        return
    with open(os.path.join(pgdata, "PG_VERSION"), encoding="utf-8") as handle:
        found = handle.read().strip()
    if found != str(paths.PG_MAJOR):
        raise FatalError(f"PGDATA={pgdata} holds a PostgreSQL {found} data directory, but this image runs "
                         f"PostgreSQL {paths.PG_MAJOR}; the directory was left untouched. Upgrade it first: "
                         "see \"Upgrading PostgreSQL\" in the README.")


def is_standby_dir(pgdata):
    return _exists(pgdata, "standby.signal")


def is_fenced(pgdata):
    return _exists(pgdata, paths.FENCED_MARKER)


def is_restored(pgdata):
    """Data restored from a backup that has not been promoted yet."""
    return _exists(pgdata, RESTORED_MARKER)


def initialising(pgdata):
    """True when an earlier initialisation of this data directory did not finish."""
    return _exists(pgdata, paths.INIT_MARKER)


def mark(pgdata, name, present=True):
    """Create (or, present=False, remove) a marker file in the data directory."""
    path = os.path.join(pgdata, name)
    if present:
        open(path, "w").close()
    elif os.path.exists(path):
        os.unlink(path)


def controldata(pgdata):
    """pg_controldata's fields as a dict (empty when there is no data directory)."""
    if not has_data(pgdata):
        return {}
    return key_values(proc.run([f"{paths.BINDIR}/pg_controldata", "-D", pgdata], timeout=10).stdout, ":")


def incomplete_clone(pgdata):
    """A clone that stopped half-way: pg_control (copied last) is missing, or a backup_label
    is there without the signal file repmgr writes when the clone is complete.

    Data restored from a backup also has a backup_label, with recovery.signal beside it.
    """
    if not has_data(pgdata):
        return False
    if not _exists(pgdata, os.path.join("global", "pg_control")):
        return True
    return _exists(pgdata, "backup_label") and not any(
        _exists(pgdata, name) for name in ("standby.signal", "recovery.signal", RESTORED_MARKER))


def facts(pgdata):
    fields = {} if incomplete_clone(pgdata) else controldata(pgdata)
    if not fields:
        return DataFacts(has_data=False)
    return DataFacts(
        has_data=True,
        was_primary=not is_standby_dir(pgdata) or is_fenced(pgdata),
        timeline=int(fields.get("Latest checkpoint's TimeLineID") or 0),
        lsn=max(parse_lsn(fields.get("Latest checkpoint location")),
                parse_lsn(fields.get("Minimum recovery ending location"))),
        state=fields.get("Database cluster state", ""),
    )


def clear(pgdata):
    """Empty the data directory (the volume's mount point itself stays)."""
    for name in os.listdir(pgdata):
        path = os.path.join(pgdata, name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.unlink(path)


def clear_incomplete(pgdata):
    """Empty the data directory before initdb; only a half-finished one is ever removed."""
    if not os.listdir(pgdata):
        return
    if has_data(pgdata) and not incomplete_clone(pgdata):
        raise FatalError(f"{pgdata} holds a data directory; refusing to remove it.")
    logger.info("Removing a half-finished data directory before starting afresh.")
    clear(pgdata)


def fence(pgdata):
    """Make the data directory start read-only (standby mode, no upstream) and remember it was a primary."""
    autoconf.set_upstream(pgdata, None)
    mark(pgdata, "standby.signal")
    mark(pgdata, paths.FENCED_MARKER)


def become_standby(pgdata, conninfo):
    """A former primary's data directory made to start as a standby streaming with conninfo. Its replication
    slots go: on a standby they would hold WAL forever."""
    autoconf.set_upstream(pgdata, conninfo)
    slots = os.path.join(pgdata, "pg_replslot")
    for name in os.listdir(slots) if os.path.isdir(slots) else ():
        shutil.rmtree(os.path.join(slots, name))
    mark(pgdata, "standby.signal")
    mark(pgdata, paths.FENCED_MARKER, present=False)


def unfence(pgdata):
    """Undo fence: the data directory starts as a primary again, on the same timeline."""
    mark(pgdata, "standby.signal", present=False)
    mark(pgdata, paths.FENCED_MARKER, present=False)
