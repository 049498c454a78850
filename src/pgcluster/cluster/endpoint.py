"""The status endpoint: each node serves its NodeStatus on STATUS_PORT; every image asks it.

It holds no secrets and listens on the cluster network only (the port is not
published). Nodes answer from their first second, even while PostgreSQL is
down or the node is still deciding its role.
"""
import http.client
import json
import socket
import time
from concurrent.futures import ThreadPoolExecutor, wait

from .. import httpserve, tls
from .status import NodeStatus

# host -> (address, when resolved). Docker's DNS answers from dockerd, which can take over a
# second under load; a primary that waited on it every time would miss its partners and fence
# itself. An address is kept ADDRESS_TTL seconds, or until the host fails to answer.
ADDRESS_TTL = 10.0
_addresses = {}
# Name resolution is not bounded by socket timeouts: a node cut off from its network blocks
# in getaddrinfo for many seconds. Asks run here and are abandoned at their deadline.
_asks = ThreadPoolExecutor(max_workers=32, thread_name_prefix="ask")


def serve(port, snapshot, get=None, post=None):
    """Serve snapshot() (a NodeStatus) as JSON on port, with more GET routes (the role API, /metrics) and the
    POST routes (control.py); return the server."""
    route = ("application/json", lambda _query: snapshot().to_json())
    return httpserve.serve(port, get={"": route, "/status": route, **(get or {})}, post=post)


def address(host):
    """host's IP address, looked up at most every ADDRESS_TTL seconds."""
    found, resolved = _addresses.get(host, (None, 0.0))
    if time.monotonic() - resolved > ADDRESS_TTL:
        ip = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)[0][4][0]
        found = f"[{ip}]" if ":" in ip else ip
        _addresses[host] = (found, time.monotonic())
    return found


class _Https(http.client.HTTPSConnection):
    """HTTPS to an address looked up beforehand, the certificate checked against the host's name."""

    def __init__(self, host, port, timeout, context):
        super().__init__(address(host), port, timeout=timeout, context=context)
        self.name = host

    def connect(self):
        http.client.HTTPConnection.connect(self)
        self.sock = self._context.wrap_socket(self.sock, server_hostname=self.name)


def connection(host, port, timeout):
    """An HTTP connection to another container's endpoint: HTTPS, the server verified, when TLS is on."""
    context = tls.client_context()
    if context is None:
        return http.client.HTTPConnection(address(host), port, timeout=timeout)
    return _Https(host, port, timeout, context)


def get(host, port, path, timeout):
    """(status, body) of GET path on host:port; OSError or HTTPException when it does not answer."""
    conn = connection(host, port, timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def get_json(host, port, path, timeout=1.0):
    """The JSON answer of GET path on host:port; None when it does not answer 200 in time."""
    try:
        status, body = get(host, port, path, timeout)
        if status == 200:
            return json.loads(body)
    except (OSError, ValueError, http.client.HTTPException):
        _addresses.pop(host, None)
    return None


def alive(host, port, path, timeout=5.0):
    """(healthy, sentence): whether GET path on host:port answers 200 within timeout."""
    try:
        status, _ = get(host, port, path, timeout)
    except (OSError, http.client.HTTPException) as exc:
        return False, f"{path} on port {port} did not answer: {exc}"
    return status == 200, f"{path} on port {port} answered {status}"


def ask(host, port, timeout=1.0):
    """The status of the node at host; NodeStatus.unknown(host) when it does not answer in time."""
    answer = get_json(host, port, "/status", timeout)
    try:
        return NodeStatus.from_json(host, answer) if answer is not None else NodeStatus.unknown(host)
    except (ValueError, TypeError):
        return NodeStatus.unknown(host)


def ask_all(hosts, port, timeout=1.0):
    """Ask every host at once: {host: NodeStatus}, unknown for the late and the silent."""
    futures = {host: _asks.submit(ask, host, port, timeout) for host in hosts}
    done, _late = wait(futures.values(), timeout=timeout + 0.2)
    return {host: f.result() if f in done else NodeStatus.unknown(host) for host, f in futures.items()}


class Client:
    """Asks the status endpoints on one port; the unit tests give the duties a fake with the same two methods."""

    def __init__(self, port):
        self.port = port

    def ask(self, host, timeout=1.0):
        return ask(host, self.port, timeout)

    def ask_all(self, hosts, timeout=1.0):
        return ask_all(hosts, self.port, timeout)
