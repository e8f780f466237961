"""Which version answers a request: the rules of ``[routing.MODEL]`` applied to one request.

In order: a version the client pinned (request parameter ``version``); the challenger for the
clients named in ``challenger_clients``; the challenger for the request keys whose hash falls in
``challenger_share`` (so one camera stays on one version); otherwise the champion. A version the
client is not allowed is never chosen for it by a rule (it gets the champion); pinning one is a 403.
Shadow runs the challenger on a sample of champion requests after the response, to compare.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass

from .errors import Forbidden
from .policy import Client, Routing


@dataclass(frozen=True)
class Route:
    """version: the version asked of the detector (None: its default, a single model file);
    route: "champion", "challenger" or "pinned"; rule: the rule that decided; shadow: the version
    to run in shadow after the response, or None."""

    version: str | None
    route: str
    rule: str
    shadow: str | None = None


def share_point(model: str, key: str) -> float:
    """Where ``key`` falls in [0, 1) for ``model``: the same in every process and every run."""
    digest = hashlib.sha256(f"{model}\0{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def decide(model: str, rules: Routing, client: Client, champion: str | None, *, pinned: str | None = None,
           key: str | None = None, draw: float | None = None) -> Route:
    """The Route of one request. champion: the champion version (None for a single model file);
    key: the request's routing key (default: the client's name); draw: a number in [0, 1) for the
    shadow sample (default: random)."""
    champion = rules.champion or champion
    if pinned is not None:
        if not client.allows(model, pinned):
            raise Forbidden(f"client {client.name!r} may not use {model} version {pinned!r}")
        return Route(pinned, "pinned", "pinned")
    challenger = rules.challenger
    if challenger is not None and client.allows(model, challenger):
        if client.name in rules.challenger_clients:
            return Route(challenger, "challenger", "challenger_clients")
        if rules.challenger_share > 0 and share_point(model, key or client.name) < rules.challenger_share:
            return Route(challenger, "challenger", "challenger_share")
    if not client.allows(model, champion):
        raise Forbidden(f"client {client.name!r} may not use {model}" + (f" version {champion!r}" if champion else ""))
    shadow = None
    if challenger is not None and challenger != champion and rules.shadow_share > 0:
        if (random.random() if draw is None else draw) < rules.shadow_share:
            shadow = challenger
    return Route(champion, "champion", "champion", shadow)
