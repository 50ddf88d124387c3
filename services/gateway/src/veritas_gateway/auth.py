"""API-key authentication: `Authorization: Bearer <key>` on every /v1 route."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer


@dataclass(frozen=True)
class Caller:
    """Who is calling: the tenant the key belongs to and a key id safe to log and audit."""

    tenant: str
    key_id: str


def key_id(key: str) -> str:
    """A stable identifier of a key that does not reveal it."""
    return "key-" + hashlib.sha256(key.encode()).hexdigest()[:12]


class ApiKeys:
    """The configured keys; lookups compare in constant time."""

    def __init__(self, tenant_by_key: dict[str, str]) -> None:
        self._entries = [
            (_digest(key), Caller(tenant, key_id(key))) for key, tenant in tenant_by_key.items()
        ]

    def authenticate(self, presented: str) -> Caller | None:
        # Digests have one length, so compare_digest leaks neither content nor length, and
        # every key is compared, so the time does not tell which one (or none) matched.
        candidate = _digest(presented)
        found: Caller | None = None
        for key, caller in self._entries:
            if hmac.compare_digest(key, candidate):
                found = caller
        return found


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


# Declares the bearer scheme in OpenAPI; auto_error=False so a missing header gets our 401.
bearer_scheme = HTTPBearer(auto_error=False, description="An API key from VERITAS_API_KEYS.")


async def require_caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> Caller:
    """FastAPI dependency: the authenticated caller, or 401 with `WWW-Authenticate: Bearer`."""
    keys: ApiKeys = request.app.state.api_keys
    caller = keys.authenticate(credentials.credentials) if credentials is not None else None
    if caller is None:
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="missing or invalid API key",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return caller


CallerDep = Annotated[Caller, Depends(require_caller)]
