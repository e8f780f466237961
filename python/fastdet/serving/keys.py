"""API keys: made at random, stored only as their SHA-256, compared in constant time.

A key is 32 random bytes (``secrets``), so a fast hash is enough: a slow password hash is for
secrets people choose. ``fastdet serve --new-key`` prints a key and the hash for the policy file.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from typing import Mapping, Sequence

PREFIX = "fdk_"
_HASH = re.compile(r"^[0-9a-f]{64}$")


def new_key() -> str:
    """A new API key (43 URL-safe characters after the prefix)."""
    return PREFIX + secrets.token_urlsafe(32)


def key_sha256(key: str) -> str:
    """What the policy file stores for ``key``: its SHA-256 in hex."""
    return hashlib.sha256(key.encode()).hexdigest()


def check_hash(value: object, where: str) -> bytes:
    """A stored hash (64 hex digits) as bytes; ValueError naming ``where`` otherwise."""
    if not isinstance(value, str) or not _HASH.match(value):
        raise ValueError(f"{where}: expected the key's SHA-256 as 64 lowercase hex digits "
                         f"(fastdet serve --new-key prints one), got {_kind(value)}")
    return bytes.fromhex(value)


def _kind(value: object) -> str:
    """What a wrong value is, without the value: it may be a raw key pasted by mistake."""
    if isinstance(value, str):
        what = "an API key, not its hash" if value.startswith(PREFIX) else "a string"
        return f"{what} of {len(value)} characters (not shown)"
    return f"a {type(value).__name__}"


def match(key: str, hashes: Sequence[tuple[str, bytes]]) -> str | None:
    """The name whose stored hash is ``key``'s, or None. Every entry is compared, each in constant
    time, so the time taken says nothing about which entry (or how much of one) matched."""
    digest = hashlib.sha256(key.encode()).digest()
    found = None
    for name, stored in hashes:
        if hmac.compare_digest(digest, stored) and found is None:
            found = name
    return found


def key_from_headers(headers: Mapping[str, object] | None) -> str | None:
    """The API key of a request: ``Authorization: Bearer KEY`` or ``x-api-key: KEY`` (REST headers
    or gRPC metadata, which MLServer hands over in the request's parameters). None when absent;
    ValueError for an Authorization header of another scheme."""
    if not headers:
        return None
    lower = {str(k).lower(): v for k, v in headers.items()}
    auth = lower.get("authorization")
    if isinstance(auth, str) and auth.strip():
        scheme, _, token = auth.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ValueError("Authorization: expected 'Bearer KEY'")
        return token.strip()
    api_key = lower.get("x-api-key")
    if isinstance(api_key, str) and api_key.strip():
        return api_key.strip()
    return None
