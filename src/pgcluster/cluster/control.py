"""The authenticated control channel: POST /control on a node's or a router's STATUS_PORT.

Reading stays open (GET /status); anything that changes the cluster (a switchover's steps) is a POST
that carries CONTROL_PASSWORD as a bearer token. A request without it, or with another, is refused
(401) and logged with the client's address; with no CONTROL_PASSWORD set, every request is refused.
"""
import hmac
import http.client
import json
import logging

from ..errors import PgclusterError
from .endpoint import connection

logger = logging.getLogger(__name__)

PATH = "/control"


class ControlError(PgclusterError):
    """A control request was refused or could not be made; the message says which and why."""


def route(secret, actions, name):
    """The POST /control handler of a container: actions {name: fn(body) -> (status, answer dict)}."""

    def handle(body, headers, client):
        given = headers.get("Authorization", "")
        if not secret or not hmac.compare_digest(given.encode(), f"Bearer {secret}".encode()):
            logger.warning("Refused a control request (%s) from %s on %s: %s.", body.get("action", "?"), client,
                           name, "CONTROL_PASSWORD is not set here" if not secret else "it lacks the control secret")
            return 401, {"error": "a control request needs CONTROL_PASSWORD"}
        action = actions.get(body.get("action"))
        if action is None:
            known = ", ".join(sorted(actions))
            return 400, {"error": f"unknown action {body.get('action')!r}; expected one of {known}"}
        return action(body)

    return {PATH: handle}


def call(host, port, secret, action, deadline=30.0, **payload):
    """The answer of host's control endpoint to action with payload (deadline: seconds to wait for it);
    ControlError when it refuses or does not answer."""
    body = json.dumps(dict(payload, action=action)).encode()
    try:
        conn = connection(host, port, deadline)
        try:
            conn.request("POST", PATH, body, {"Content-Type": "application/json",
                                              "Authorization": f"Bearer {secret or ''}"})
            response = conn.getresponse()
            answer = json.loads(response.read() or b"{}")
        finally:
            conn.close()
    except (OSError, ValueError, http.client.HTTPException) as exc:
        raise ControlError(f"{host} did not answer the control request {action!r}: {exc}") from None
    if response.status >= 300:
        raise ControlError(f"{host} refused {action!r}: {answer.get('error', response.status)}")
    return answer
