"""The settings of fastdet's two serving models, read from ``model-settings.json``.

MLServer passes a model's own settings in ``parameters``: ``uri`` (the model file, relative to
the settings file) and ``extra`` (anything else). Unknown keys in ``extra`` are an error, so a
typo does not silently fall back to a default.

Detector model (``fastdet.serving.FastdetRuntime``), ``extra``:
    registry, registry_root, version   serve a registry's model line instead of ``uri``: each
                                        request may name a version; default the champion
    backend, conf, iou, max_det, classes, agnostic, threads, precision   as ``fastdet.Detector``
    max_pixels                          images with more pixels are refused (413), per image
    channels                            "bgr" (default, OpenCV's order) or "rgb" for raw uint8 frames
    internal_key_file                   when set, only requests carrying this key (the router's) are served
    cached_versions                     Detectors kept per worker (registry mode), default 3
    drift_profile                       a ``fastdet profile`` file: a drift Monitor watches every frame

Router model (``fastdet.serving.FastdetRouter``), ``extra``:
    detector, upstream                  the detector model's name and the gRPC address it answers on
    registry, registry_root             the model line whose champion answers by default
    policy                              the policy file (clients, keys, limits, routing); none: open
    internal_key_file, max_pixels, decision_log, shadow_max_in_flight
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from .errors import BadRequest
from .settings_files import MAX_DET

DEFAULT_MAX_PIXELS = 40_000_000


class SettingsError(ValueError):
    """A model-settings.json fastdet cannot use; the message names the key."""


def _check(extra: dict[str, Any], known: set[str], what: str) -> None:
    unknown = sorted(set(extra) - known)
    if unknown:
        raise SettingsError(f"{what}: unknown settings {unknown} in parameters.extra; expected some of {sorted(known)}")


def _number(extra: dict[str, Any], key: str, default: Any, kind: type, low: float, high: float | None = None) -> Any:
    value = extra.get(key, default)
    if value is None:
        return None
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind is int:
        ok = ok and float(value).is_integer()
    if not ok or value < low or (high is not None and value > high):
        span = f"[{low}, {high}]" if high is not None else f">= {low}"
        raise SettingsError(f"parameters.extra.{key}: expected a {'whole ' if kind is int else ''}number {span}, "
                            f"got {value!r}")
    return kind(value)


def _path(value: Any, base: Path | None, key: str) -> Path | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise SettingsError(f"{key}: expected a path, got {value!r}")
    p = Path(os.path.expandvars(value)).expanduser()
    return p if p.is_absolute() or base is None else (base / p)


def settings_folder(settings: Any) -> Path | None:
    """The folder of the model-settings.json MLServer read (paths in it are relative to it)."""
    source = getattr(settings, "_source", None)
    return Path(source).parent if source else None


class UntrustedFile(SettingsError):
    """A file the server trusts (policy, internal key) that another user could have written."""


def read_trusted_file(path: Path, what: str) -> bytes:
    """The bytes of an operator's file the server trusts (its policy, its internal key); see
    ``private_files.read_operator_file`` (root-owned Secret files pass, files another non-root
    user could write are refused)."""
    from ..private_files import read_operator_file

    return read_operator_file(path, what, UntrustedFile)


def read_internal_key(path: Path | None) -> bytes | None:
    """The router's key for internal calls, from a private file (None when not configured)."""
    if path is None:
        return None
    key = read_trusted_file(path, "internal key file").strip()
    if len(key) < 16:
        raise SettingsError(f"internal_key_file: {path} holds {len(key)} bytes; expected at least 16")
    return key


@dataclass(frozen=True)
class DetectorOptions:
    model: Path | None = None
    registry: str | None = None
    registry_root: Path | None = None
    version: str | None = None
    backend: str = "auto"
    conf: float = 0.25
    iou: float = 0.7
    max_det: int = 300
    classes: list[int | str] | None = None
    agnostic: bool = False
    threads: int | None = None
    precision: str | None = None
    max_pixels: int = DEFAULT_MAX_PIXELS
    channels: str = "bgr"
    internal_key_file: Path | None = None
    cached_versions: int = 3
    drift_profile: Path | None = None

    @classmethod
    def from_settings(cls, settings: Any) -> DetectorOptions:
        params = settings.parameters
        extra = dict((params.extra if params else None) or {})
        _check(extra, {f.name for f in fields(cls)} - {"model"}, f"model {settings.name!r}")
        base = settings_folder(settings)
        uri = params.uri if params else None
        model = _path(uri, base, "parameters.uri")
        registry = extra.get("registry")
        # MLServer sets a missing uri to the settings' own folder.
        if model is not None and base is not None and model.resolve() == base.resolve():
            model = model / "model.onnx" if (model / "model.onnx").is_file() else None if registry else model
        if (model is None) == (registry is None):
            raise SettingsError(f"model {settings.name!r}: set either parameters.uri (a model file) or "
                                f"parameters.extra.registry (a registry model line), not both or neither")
        channels = extra.get("channels", "bgr")
        if channels not in ("bgr", "rgb"):
            raise SettingsError(f"parameters.extra.channels: expected 'bgr' or 'rgb', got {channels!r}")
        classes = extra.get("classes")
        if classes is not None and not isinstance(classes, list):
            classes = [classes]
        backend = extra.get("backend", "auto")
        if not isinstance(backend, str):
            raise SettingsError(f"parameters.extra.backend: expected a backend name, got {backend!r}")
        return cls(
            model=model, registry=registry, registry_root=_path(extra.get("registry_root"), base, "registry_root"),
            version=extra.get("version"), backend=backend,
            conf=_number(extra, "conf", 0.25, float, 0.0, 1.0), iou=_number(extra, "iou", 0.7, float, 0.0, 1.0),
            max_det=_number(extra, "max_det", 300, int, 1, MAX_DET), classes=classes,
            agnostic=bool(extra.get("agnostic", False)), threads=_number(extra, "threads", None, int, 1),
            precision=extra.get("precision"), max_pixels=_number(extra, "max_pixels", DEFAULT_MAX_PIXELS, int, 1),
            channels=channels, internal_key_file=_path(extra.get("internal_key_file"), base, "internal_key_file"),
            cached_versions=_number(extra, "cached_versions", 3, int, 1, 64),
            drift_profile=_path(extra.get("drift_profile"), base, "drift_profile"),
        )

    def detector_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``fastdet.Detector`` (backend options only when set)."""
        kw: dict[str, Any] = {"backend": self.backend, "conf": self.conf, "iou": self.iou, "max_det": self.max_det,
                              "classes": self.classes, "agnostic": self.agnostic}
        if self.threads is not None:
            kw["threads"] = self.threads
        if self.precision is not None:
            kw["precision"] = self.precision
        return kw


@dataclass(frozen=True)
class RouterOptions:
    detector: str = ""
    upstream: str = "127.0.0.1:8081"
    registry: str | None = None
    registry_root: Path | None = None
    policy: Path | None = None
    internal_key_file: Path | None = None
    max_pixels: int = DEFAULT_MAX_PIXELS
    decision_log: Path | None = None
    shadow_max_in_flight: int = 4
    timeout_s: float = 30.0
    extra_headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Any) -> RouterOptions:
        params = settings.parameters
        extra = dict((params.extra if params else None) or {})
        _check(extra, {f.name for f in fields(cls)}, f"model {settings.name!r}")
        base = settings_folder(settings)
        detector = extra.get("detector")
        if not isinstance(detector, str) or not detector:
            raise SettingsError(f"model {settings.name!r}: parameters.extra.detector must name the detector model "
                                f"this router sends images to")
        headers = extra.get("extra_headers") or {}
        if not isinstance(headers, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                    for k, v in headers.items()):
            raise SettingsError("parameters.extra.extra_headers: expected an object of header names to strings")
        return cls(
            detector=detector, upstream=str(extra.get("upstream", "127.0.0.1:8081")), registry=extra.get("registry"),
            registry_root=_path(extra.get("registry_root"), base, "registry_root"),
            policy=_path(extra.get("policy"), base, "policy"),
            internal_key_file=_path(extra.get("internal_key_file"), base, "internal_key_file"),
            max_pixels=_number(extra, "max_pixels", DEFAULT_MAX_PIXELS, int, 1),
            decision_log=_path(extra.get("decision_log"), base, "decision_log"),
            shadow_max_in_flight=_number(extra, "shadow_max_in_flight", 4, int, 0, 1024),
            timeout_s=_number(extra, "timeout_s", 30.0, float, 0.001), extra_headers={k.lower(): v for k, v in
                                                                                        headers.items()},
        )


def parameter(params: Any, name: str) -> Any:
    """A request parameter by name (None when absent); MLServer keeps unknown ones as extra fields."""
    if params is None:
        return None
    value = getattr(params, name, None)
    if value is None and getattr(params, "model_extra", None):
        value = params.model_extra.get(name)
    return value


def text_parameter(params: Any, name: str, limit: int = 256) -> str | None:
    """A request parameter that must be a short string (or absent)."""
    value = parameter(params, name)
    if value is None:
        return None
    if not isinstance(value, (str, int)) or isinstance(value, bool) or len(str(value)) > limit:
        raise BadRequest(f"parameter {name!r}: expected a string of at most {limit} characters, got {value!r}")
    return str(value)
