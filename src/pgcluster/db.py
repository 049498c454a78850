"""PostgreSQL connections with deadlines, and small query helpers.

A connection open to a node that dies can hang on its next query, whatever
connect_timeout says: every connection here also gets keepalives, a TCP user
timeout and a statement timeout, so a probe always returns.
"""
import psycopg2

SOCKET_DIR = "/var/run/postgresql"


def connect(host=SOCKET_DIR, port=5432, user="postgres", dbname="postgres", password=None,
            timeout=2, statement_timeout=None, application_name="pgcluster", autocommit=True):
    """A psycopg2 connection; statement_timeout in seconds defaults to 2 x timeout."""
    statement_ms = int((statement_timeout or 2 * timeout) * 1000)
    params = dict(host=host, port=port, user=user, dbname=dbname, connect_timeout=max(1, int(timeout)),
                  application_name=application_name, options=f"-c statement_timeout={statement_ms}")
    if password is not None:
        params["password"] = password
    if not host.startswith("/"):
        params.update(keepalives=1, keepalives_idle=1, keepalives_interval=1, keepalives_count=2,
                      tcp_user_timeout=int(timeout * 1000) + 1000)
    conn = psycopg2.connect(**params)
    conn.autocommit = autocommit
    return conn


def rows(conn, sql, params=None):
    with conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall() if cur.description else []


def scalar(conn, sql, params=None):
    result = rows(conn, sql, params)
    return result[0][0] if result else None


def execute(conn, sql, params=None):
    with conn.cursor() as cur:
        cur.execute(sql, params)
