"""The node's status endpoint: what this node is, answered even while PostgreSQL is down.

Partners ask it at start (who is primary, who holds newer data), the fencing
loop asks it for the majority, health checks ask it for the verdict. It holds
no secrets and listens on the cluster network only (the port is not published).
"""
import http.client
import json
import socket
import time

from .. import httpserve

# host -> (address, when resolved). Docker's DNS answers from dockerd, which can take over a
# second under load; a primary that waited on it every time would miss its partners and fence
# itself. An address is kept ADDRESS_TTL seconds, or until the host fails to answer.
ADDRESS_TTL = 10.0
_addresses = {}


def serve(port, snapshot):
    """Serve snapshot() as JSON on port; return the server."""
    return httpserve.serve(port, ("", "/status"), "application/json", lambda: json.dumps(snapshot()))


def _address(host):
    address, resolved = _addresses.get(host, (None, 0.0))
    if time.monotonic() - resolved > ADDRESS_TTL:
        ip = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)[0][4][0]
        address = f"[{ip}]" if ":" in ip else ip
        _addresses[host] = (address, time.monotonic())
    return address


def is_running_primary(answer):
    """True when a status answer is from a running, unfenced primary."""
    return bool(answer and answer.get("running") and answer.get("role") == "primary" and not answer.get("fenced"))


def ask(host, port, timeout=1.0):
    """The status of the node at host, or None when it does not answer in time."""
    try:
        conn = http.client.HTTPConnection(_address(host), port, timeout=timeout)
        try:
            conn.request("GET", "/status")
            response = conn.getresponse()
            if response.status != 200:
                return None
            return json.loads(response.read())
        finally:
            conn.close()
    except (OSError, ValueError, http.client.HTTPException):
        _addresses.pop(host, None)
        return None
