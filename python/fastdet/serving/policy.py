"""The policy file: who may call which model, with which limits, and which version answers.
Business rules as data (TOML), read again when the file changes.

    # API keys are stored as their SHA-256 only: `fastdet serve --new-key` prints a key and its hash.
    [clients.acme]
    key_sha256 = "3b0c...e1"
    models = ["pedestrian"]        # router names; "pedestrian:v2" allows one version, "*" every model
    classes = ["person"]           # optional: the only classes returned (and that may be asked for)
    max_pixels = 8_300_000         # optional: larger images are refused (413)
    rate = 20.0                    # optional: requests per second, sustained (429 beyond)
    burst = 40                     # optional: requests at once (default: rate, at least 1)

    [routing.pedestrian]
    challenger = "v2"              # a registry version of the line
    challenger_share = 0.10        # share of request keys answered by the challenger
    challenger_clients = ["lab"]   # clients always answered by the challenger
    key = "camera_id"              # request parameter (or header) that keeps a camera on one version
    shadow_share = 0.05            # share of champion requests also run on the challenger, compared,
                                   # never returned
    champion = "v1"                # optional: pin, instead of following the registry's champion

A policy without ``[clients]`` lets anyone call (the client is "anonymous"); with clients, every
request needs a known key.
"""

from __future__ import annotations

import logging
import math
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from .keys import check_hash

log = logging.getLogger("fastdet.serving")

ANONYMOUS = "anonymous"


class PolicyError(ValueError):
    """A policy file fastdet cannot use; the message names the entry."""


@dataclass(frozen=True)
class Client:
    name: str
    key_hash: bytes | None = None
    models: tuple[str, ...] = ("*",)
    classes: tuple[int | str, ...] | None = None
    max_pixels: int | None = None
    rate: float | None = None
    burst: float | None = None

    def allows(self, model: str, version: str | None = None) -> bool:
        """True when the client may use ``model`` (and ``version`` of it, when given)."""
        for entry in self.models:
            name, _, v = entry.partition(":")
            if name not in ("*", model):
                continue
            if not v or v == "*" or version is None or v == version:
                return True
        return False

    def allows_any_version(self, model: str) -> bool:
        return any(e in ("*", model, f"{model}:*") for e in self.models)


@dataclass(frozen=True)
class Routing:
    champion: str | None = None
    challenger: str | None = None
    challenger_share: float = 0.0
    challenger_clients: tuple[str, ...] = ()
    key: str | None = None
    shadow_share: float = 0.0


@dataclass(frozen=True)
class Policy:
    clients: dict[str, Client] = field(default_factory=dict)
    routing: dict[str, Routing] = field(default_factory=dict)
    path: Path | None = None

    @property
    def open(self) -> bool:
        """No clients configured: anyone may call."""
        return not self.clients

    def key_hashes(self) -> list[tuple[str, bytes]]:
        return [(c.name, c.key_hash) for c in self.clients.values() if c.key_hash is not None]

    def routing_for(self, model: str) -> Routing:
        return self.routing.get(model, Routing())


OPEN = Policy()

_CLIENT_KEYS = {"key_sha256", "models", "classes", "max_pixels", "rate", "burst"}
_ROUTING_KEYS = {"champion", "challenger", "challenger_share", "challenger_clients", "key", "shadow_share"}


def _table(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise PolicyError(f"{where}: expected a table, got {type(value).__name__}")
    return value


def _unknown(table: Mapping[str, Any], known: set[str], where: str) -> None:
    extra = sorted(set(table) - known)
    if extra:
        raise PolicyError(f"{where}: unknown entries {extra}; expected some of {sorted(known)}")


def _str_list(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise PolicyError(f"{where}: expected a list of names, got {value!r}")
    return tuple(value)


def _share(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise PolicyError(f"{where}: expected a share from 0.0 to 1.0, got {value!r}")
    return float(value)


def _positive(value: Any, where: str, whole: bool = False) -> float | int | None:
    if value is None:
        return None
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0 and math.isfinite(value)
    if whole:
        ok = ok and float(value).is_integer()
    if not ok:
        raise PolicyError(f"{where}: expected a positive {'whole ' if whole else ''}number, got {value!r}")
    return int(value) if whole else float(value)


def _client(name: str, raw: Any) -> Client:
    where = f"clients.{name}"
    t = _table(raw, where)
    _unknown(t, _CLIENT_KEYS, where)
    if "key_sha256" not in t:
        raise PolicyError(f"{where}: key_sha256 is missing (fastdet serve --new-key prints a key and its hash)")
    try:
        key_hash = check_hash(t["key_sha256"], f"{where}.key_sha256")
    except ValueError as e:
        raise PolicyError(str(e)) from None
    classes = t.get("classes")
    if classes is not None:
        if isinstance(classes, (str, int)):
            classes = [classes]
        if not isinstance(classes, list) or not classes or not all(
                isinstance(c, (str, int)) and not isinstance(c, bool) for c in classes):
            raise PolicyError(f"{where}.classes: expected class names or ids, got {classes!r}")
        classes = tuple(classes)
    rate = _positive(t.get("rate"), f"{where}.rate")
    burst = _positive(t.get("burst"), f"{where}.burst")
    if burst is not None and rate is None:
        raise PolicyError(f"{where}: burst needs a rate")
    if rate is not None and burst is None:
        burst = max(1.0, rate)
    return Client(name, key_hash, _str_list(t.get("models", []), f"{where}.models"), classes,
                  _positive(t.get("max_pixels"), f"{where}.max_pixels", whole=True), rate, burst)


def _routing(model: str, raw: Any, clients: Mapping[str, Client]) -> Routing:
    where = f"routing.{model}"
    t = _table(raw, where)
    _unknown(t, _ROUTING_KEYS, where)
    for k in ("champion", "challenger", "key"):
        if k in t and (not isinstance(t[k], str) or not t[k]):
            raise PolicyError(f"{where}.{k}: expected a name, got {t[k]!r}")
    r = Routing(champion=t.get("champion"), challenger=t.get("challenger"),
                challenger_share=_share(t.get("challenger_share", 0.0), f"{where}.challenger_share"),
                challenger_clients=_str_list(t.get("challenger_clients", []), f"{where}.challenger_clients"),
                key=t.get("key"), shadow_share=_share(t.get("shadow_share", 0.0), f"{where}.shadow_share"))
    if r.challenger is None and (r.challenger_share or r.challenger_clients or r.shadow_share):
        raise PolicyError(f"{where}: challenger_share, challenger_clients and shadow_share need a challenger version")
    unknown = [c for c in r.challenger_clients if c not in clients]
    if unknown:
        raise PolicyError(f"{where}.challenger_clients: {unknown} are not clients of this policy")
    return r


def parse(doc: Mapping[str, Any], path: Path | None = None) -> Policy:
    """A Policy from the parsed TOML document."""
    _unknown(doc, {"clients", "routing"}, str(path or "policy"))
    clients = {name: _client(name, raw) for name, raw in _table(doc.get("clients", {}), "clients").items()}
    hashes = [c.key_hash for c in clients.values()]
    if len(set(hashes)) != len(hashes):
        raise PolicyError("clients: two clients share one key_sha256; each client needs its own key")
    routing = {m: _routing(m, raw, clients) for m, raw in _table(doc.get("routing", {}), "routing").items()}
    return Policy(clients, routing, path)


def load(path: Path) -> Policy:
    """Reads and checks a policy file (PolicyError for a bad one, with the entry named)."""
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    from .options import SettingsError, read_trusted_file

    try:
        # The policy says who may call: a file another user could write is not used.
        doc = tomllib.loads(read_trusted_file(path, "policy file").decode("utf-8"))
    except SettingsError as e:
        raise PolicyError(f"policy: {e}") from None
    except UnicodeDecodeError:
        raise PolicyError(f"policy {path}: not UTF-8 text") from None
    except OSError as e:
        raise PolicyError(f"policy {path}: {e.strerror or e}") from None
    except tomllib.TOMLDecodeError as e:
        raise PolicyError(f"policy {path}: not valid TOML ({e})") from None
    return parse(doc, path)


class PolicyFile:
    """The policy of a file, read again when the file changes; a change that does not parse is
    logged and the policy in force stays."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._policy = OPEN if path is None else load(path)
        if path is not None:
            self._stamp = self._stat()

    def _stat(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.path)  # type: ignore[arg-type]
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def current(self) -> Policy:
        if self.path is None:
            return self._policy
        stamp = self._stat()
        if stamp != self._stamp:
            with self._lock:
                if stamp != self._stamp:
                    try:
                        self._policy = load(self.path)
                        log.info("policy %s reloaded: %d clients, routing for %s", self.path,
                                 len(self._policy.clients), sorted(self._policy.routing))
                    except PolicyError as e:
                        log.error("policy %s changed but cannot be used; the previous one stays: %s", self.path, e)
                    self._stamp = stamp
        return self._policy
