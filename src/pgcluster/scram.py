"""SCRAM-SHA-256 verifiers computed client-side.

CREATE/ALTER ROLE ... PASSWORD gets the verifier, never the plain password,
so no server log line (an error's STATEMENT, log_statement) can show it.
"""
import base64
import hashlib
import hmac
import os
import unicodedata

ITERATIONS = 4096


def verifier(password, salt=None, iterations=ITERATIONS):
    """The 'SCRAM-SHA-256$iter:salt$StoredKey:ServerKey' string PostgreSQL stores."""
    salt = os.urandom(16) if salt is None else salt
    # SASLprep's main step; PostgreSQL does the same before hashing.
    normalized = unicodedata.normalize("NFKC", password).encode("utf-8")
    salted = hashlib.pbkdf2_hmac("sha256", normalized, salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()

    def b64(data):
        return base64.b64encode(data).decode()

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"
