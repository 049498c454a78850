"""The node's TLS files in use: installed at start, reloaded when they are replaced."""
import signal

from .. import tls


class Certificates:
    """A duty: a replaced certificate (checked by tls.Watch) reaches PostgreSQL (SIGHUP reloads its TLS files)
    and the status endpoint's new connections; the exporter reads its files at every connection."""

    def __init__(self, node):
        self.node = node
        self.watch = tls.Watch(node.cfg.tls, name=node.cfg.host, who=node.cfg.node_name)

    def reset(self):
        pass

    def tick(self, live):
        if self.watch.changed():
            self.node.server.signal(signal.SIGHUP)
            tls.reload()
