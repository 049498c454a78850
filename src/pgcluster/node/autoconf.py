"""postgresql.auto.conf, which repmgr, pg_rewind and restores write too: the one place pgcluster edits it."""
import os

from .. import render

RECOVERY_SETTINGS = ("restore_command", "recovery_target", "recovery_target_time", "recovery_target_lsn",
                     "recovery_target_name", "recovery_target_xid", "recovery_target_timeline",
                     "recovery_target_action", "recovery_target_inclusive", "recovery_end_command")


def rewrite(pgdata, drop=(), add=None):
    """Remove the settings named in drop, then append add ({name: value}), atomically."""
    path = os.path.join(pgdata, "postgresql.auto.conf")
    kept = []
    if os.path.exists(path):
        with open(path, encoding="utf-8") as handle:
            kept = [line for line in handle if line.split("=", 1)[0].strip().lower() not in drop]
    kept += [f"{name} = {render.pg_string(value)}\n" for name, value in (add or {}).items()]
    render.write_atomic(path, "".join(kept), 0o600)


def set_upstream(pgdata, conninfo=None):
    """Point the server at an upstream (None: no upstream), without a slot.

    pg_rewind copies the source's file, which names the wrong node; a fenced node must
    follow nobody. repmgr adds the slot when it follows.
    """
    rewrite(pgdata, drop=("primary_conninfo", "primary_slot_name"),
            add={"primary_conninfo": conninfo} if conninfo else None)


def drop_recovery_settings(pgdata):
    """After a restored node's promotion: a later standby must not inherit the restore command or target."""
    rewrite(pgdata, drop=RECOVERY_SETTINGS)
