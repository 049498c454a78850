"""The node's status endpoint: what this node is, answered even while PostgreSQL is down.

Partners ask it at start (who is primary, who holds newer data), the fencing
loop asks it for the majority, health checks ask it for the verdict. It holds
no secrets and listens on the cluster network only (the port is not published).
"""
import http.client
import json

from .. import httpserve


def serve(port, snapshot):
    """Serve snapshot() as JSON on port; return the server."""
    return httpserve.serve(port, ("", "/status"), "application/json", lambda: json.dumps(snapshot()))


def ask(host, port, timeout=1.0):
    """The status of the node at host, or None when it does not answer in time."""
    try:
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
        try:
            conn.request("GET", "/status")
            response = conn.getresponse()
            if response.status != 200:
                return None
            return json.loads(response.read())
        finally:
            conn.close()
    except (OSError, ValueError, http.client.HTTPException):
        return None
