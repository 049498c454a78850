"""The pgpool-II router container: configuration, PCP, and the attach watcher."""
