"""PostgreSQL connections and queries with hard deadlines.

A server frozen by `docker pause` (or a dead peer behind a proxy) still has
its kernel acknowledge TCP, so keepalives, tcp_user_timeout and the server's
own statement_timeout never fire and a query can wait forever. Every
statement here runs under a watchdog that shuts the socket down at its
deadline, which makes libpq fail the query at once.
"""
import os
import socket
import threading

import psycopg2

from . import tls
from .paths import SOCKET_DIR


def connect(host=SOCKET_DIR, port=5432, user="postgres", dbname="postgres", password=None, timeout=2,
            application_name="pgcluster", autocommit=True, **extra):
    """A psycopg2 connection; connect_timeout bounds each host of a multi-host string."""
    params = dict(host=host, port=port, user=user, dbname=dbname, connect_timeout=max(1, int(timeout)),
                  application_name=application_name, **extra)
    if password is not None:
        params["password"] = password
    if not str(host).startswith("/"):
        params = {**tls.current().libpq(), **params}
        params.update(keepalives=1, keepalives_idle=1, keepalives_interval=1, keepalives_count=2,
                      tcp_user_timeout=int(timeout * 1000) + 1000)
    conn = psycopg2.connect(**params)
    conn.autocommit = autocommit
    return conn


def _sever(conn):
    try:
        sock = socket.socket(fileno=os.dup(conn.fileno()))
    except OSError:
        return
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    finally:
        sock.close()


def rows(conn, sql, params=None, timeout=10, named=False):
    """Run sql; its rows ([] when it returns none), as dicts by column name when named. Past the deadline
    the connection is cut and psycopg2.OperationalError raised."""
    watchdog = threading.Timer(timeout, _sever, args=(conn,))
    watchdog.daemon = True
    watchdog.start()
    try:
        with conn.cursor() as cur:
            cur.execute(sql, params)
            if not cur.description:
                return []
            found = cur.fetchall()
            if named:
                names = [c.name for c in cur.description]
                return [dict(zip(names, row, strict=True)) for row in found]
            return found
    finally:
        watchdog.cancel()


def scalar(conn, sql, params=None, timeout=10):
    result = rows(conn, sql, params, timeout)
    return result[0][0] if result else None


def execute(conn, sql, params=None, timeout=10):
    rows(conn, sql, params, timeout)
