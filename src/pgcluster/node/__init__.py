"""The PostgreSQL node: role decision, bootstrap, repmgr, supervision and fencing."""
