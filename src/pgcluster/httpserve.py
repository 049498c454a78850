"""A small HTTP server in a daemon thread: the nodes' and routers' endpoints, Barman's /metrics.

GET routes answer a body built on each request from the query string, with 200 or a status of their own
(HEAD and OPTIONS answer the same status without a body, for load balancers' health checks); POST routes
take a JSON body and answer JSON. An answer that cannot be built is a 503 and a log line, never a dead
thread.
"""
import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from . import tls

logger = logging.getLogger(__name__)

MAX_BODY = 65536


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    tls = None  # an ssl.SSLContext: HTTPS, each handshake in the request's own thread

    def get_request(self):
        sock, client = super().get_request()
        if self.tls is not None:
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, client

    def handle_error(self, request, client_address):
        # A client that gave up (its deadline passed while this container was frozen) closed the socket.
        logger.debug("A request from %s ended early.", client_address[0])


class _Handler(BaseHTTPRequestHandler):
    timeout = 10  # a client that stops mid-request (or mid-handshake) frees its thread

    def setup(self):
        super().setup()
        if self.server.tls is not None:
            self.request.do_handshake()

    def _path(self):
        return urlsplit(self.path).path.rstrip("/")

    def _send(self, status, content_type, body, with_body=True):
        body = body if with_body else b""
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self, with_body=True):  # noqa: N802 (http.server's name)
        route = self.server.get.get(self._path())
        if route is None:
            self.send_error(404)
            return
        content_type, body = route
        try:
            answer = body(dict(parse_qsl(urlsplit(self.path).query)))
            status, text = answer if isinstance(answer, tuple) else (200, answer)
        except Exception as exc:  # an answer that cannot be built must never take the container down
            logger.warning("Could not answer %s: %s.", self.path, exc)
            self.send_error(503)
            return
        self._send(status, content_type, text.encode(), with_body)

    def do_HEAD(self):  # noqa: N802
        self.do_GET(with_body=False)

    do_OPTIONS = do_HEAD  # HAProxy's `option httpchk` asks with OPTIONS unless told otherwise

    def do_POST(self):  # noqa: N802
        handler = self.server.post.get(self._path())
        length = int(self.headers.get("Content-Length") or 0)
        if handler is None or length > MAX_BODY:
            self.send_error(404 if handler is None else 413)
            return
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
            status, answer = handler(body, self.headers, self.client_address[0])
        except ValueError:
            status, answer = 400, {"error": "the body is not a JSON object"}
        except Exception as exc:  # logged once, answered as a failure
            logger.exception("Could not carry out %s: %s", self.path, exc)
            status, answer = 500, {"error": str(exc)}
        self._send(status, "application/json", json.dumps(answer).encode())

    def log_message(self, *args):
        pass


def serve(port, get=None, post=None):
    """Serve routes from a daemon thread, over HTTPS when this container's TLS is on; return the server.

    get: {path: (content type, body(query) -> str or (status, str))};
    post: {path: handler(body, headers, client) -> (status, dict)}.
    """
    server = _Server(("0.0.0.0", port), _Handler)
    server.get, server.post, server.tls = dict(get or {}), dict(post or {}), tls.server_context()
    threading.Thread(target=server.serve_forever, name=f"http-{port}", daemon=True).start()
    return server
