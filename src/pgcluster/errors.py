"""The small exception tree: everything pgcluster raises on purpose."""


class PgclusterError(Exception):
    """Base class; the message is a sentence an operator can act on."""


class ConfigError(PgclusterError):
    """One or more environment variables are missing or malformed."""

    def __init__(self, problems):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class CommandError(PgclusterError):
    """A subprocess failed; the message carries its redacted stderr."""


class FatalError(PgclusterError):
    """The container cannot go on; the supervisor exits non-zero."""


class Redecide(Exception):
    """Stop PostgreSQL and decide the node's role again, for the reason given.

    urgent: stop with an immediate shutdown (a primary that must stop writing now).
    """

    def __init__(self, reason, urgent=False):
        super().__init__(reason)
        self.urgent = urgent
