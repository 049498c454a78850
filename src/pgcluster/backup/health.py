"""The backup container's health check (PostDock's barman_check); returns (healthy, sentence)."""
from . import barman


def barman_check(cfg):
    """Healthy when every `barman check` item passes; the sentence names the ones that fail."""
    result = barman.run("check", "--nagios", cfg.server, check=False, timeout=60, quiet=False)
    return result.returncode == 0, (result.stdout.strip() or result.stderr.strip())
