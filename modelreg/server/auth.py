"""Bearer tokens: `Authorization: Bearer <token>` checked by a verifier

    verify(token: str) -> str | None    # the consumer's name, or None; may block

given to the app factory (token storage lives in the library). Results are
kept per token digest until the audit head moves (creating or revoking a
token is an audited change), so a verifier that reads the database is asked
once per token per head, in a worker thread.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Callable
from concurrent.futures import Executor

from modelreg.server.errors import ApiError

Verify = Callable[[str], "str | None"]
_BEARER = re.compile(r"^[Bb][Ee][Aa][Rr][Ee][Rr] +([A-Za-z0-9\-._~+/]+=*) *\Z")  # RFC 6750 b64token
CHALLENGE = 'Bearer realm="modelreg"'


def unauthorized(message: str, *, invalid: bool) -> ApiError:
    challenge = CHALLENGE + (', error="invalid_token"' if invalid else "")
    return ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": challenge})


class TokenCheck:
    def __init__(self, verify: Verify, executor: Executor, *, max_entries: int = 10_000):
        self.verify = verify
        self.executor = executor
        self.max_entries = max_entries
        self.known: dict[bytes, str | None] = {}

    def reset(self) -> None:
        self.known.clear()

    async def consumer(self, authorization: str | None) -> str:
        """The consumer name a request's Authorization header proves, or 401."""
        if not authorization:
            raise unauthorized("this server requires a bearer token (Authorization: Bearer <token>)", invalid=False)
        match = _BEARER.match(authorization)
        if match is None:
            raise unauthorized("malformed Authorization header: expected 'Bearer <token>'", invalid=True)
        token = match.group(1)
        digest = hashlib.sha256(token.encode()).digest()
        if digest in self.known:
            name = self.known[digest]
        else:
            name = await asyncio.get_running_loop().run_in_executor(self.executor, self.verify, token)
            if len(self.known) >= self.max_entries:
                self.known.clear()
            self.known[digest] = name
        if not name:
            raise unauthorized("invalid or revoked bearer token", invalid=True)
        return name
