"""Paths every image shares; each image's own paths live in its package (node/paths.py, ...)."""
PG_MAJOR = 17
BINDIR = f"/usr/lib/postgresql/{PG_MAJOR}/bin"
CONF_DIR = "/etc/pgcluster"  # every generated file of pgcluster, in every image
SOCKET_DIR = "/var/run/postgresql"
RECOVERY_DIR = "/var/lib/pgcluster/recovery"  # the volume the backup container hands restored data over in
