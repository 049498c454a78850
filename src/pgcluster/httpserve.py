"""A one-route HTTP server in a daemon thread: the node's /status and Barman's /metrics."""
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

logger = logging.getLogger(__name__)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A client that gave up (its deadline passed while this container was frozen) closed the socket.
        logger.debug("A request from %s ended early.", client_address[0])


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's name)
        if self.path.split("?")[0].rstrip("/") not in self.server.paths:
            self.send_error(404)
            return
        try:
            body = self.server.body().encode()
        except Exception as exc:  # an answer that cannot be built must never take the container down
            logger.warning("Could not answer %s: %s.", self.path, exc)
            self.send_error(503)
            return
        self.send_response(200)
        self.send_header("Content-Type", self.server.content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def serve(port, paths, content_type, body):
    """Answer GET on any of paths with body() (a str), from a daemon thread; return the server."""
    server = _Server(("0.0.0.0", port), _Handler)
    server.paths, server.content_type, server.body = set(paths), content_type, body
    threading.Thread(target=server.serve_forever, name=f"http-{port}", daemon=True).start()
    return server
