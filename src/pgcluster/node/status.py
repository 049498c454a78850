"""The node's status endpoint: what this node is, answered even while PostgreSQL is down.

Partners ask it at start (who is primary, who holds newer data), the fencing
loop asks it for the majority, health checks ask it for the verdict. It holds
no secrets and listens on the cluster network only (the port is not published).
"""
import http.client
import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

logger = logging.getLogger(__name__)


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's name)
        if self.path.rstrip("/") not in ("", "/status"):
            self.send_error(404)
            return
        try:
            body = json.dumps(self.server.snapshot()).encode()
        except Exception as exc:  # a status request must never take the node down
            logger.warning("The status endpoint could not build an answer: %s.", exc)
            self.send_error(503)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A prober that gave up (its deadline passed while this node was frozen) closed the socket.
        logger.debug("A status request from %s ended early.", client_address[0])


def serve(port, snapshot):
    """Serve snapshot() as JSON on port in a daemon thread; return the server."""
    server = _Server(("0.0.0.0", port), _Handler)
    server.snapshot = snapshot
    threading.Thread(target=server.serve_forever, name="status", daemon=True).start()
    return server


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
