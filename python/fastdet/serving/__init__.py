"""Serving on Seldon's MLServer: fastdet's runtimes and the business rules around them.

    runtime, detectors, images, tensors   FastdetRuntime: the detector model (batch-major I/O,
                                          adaptive batching, a bad image fails only itself)
    router, upstream, routing, policy,    FastdetRouter: the front model: who may call (API keys,
    keys, rate_limit, decisions           models, classes, image size, rate), which version answers
                                          (champion, challenger share, shadow), one log line each
    options, errors, metrics              settings from model-settings.json, 4xx/gRPC codes, Prometheus
    settings_files, serve_cli             fastdet serve: MLServer settings written, `mlserver start`

MLServer (``pip install 'fastdet[serve]'``, Python < 3.13) is imported with the runtimes, not
with this package: ``fastdet.serving.FastdetRuntime`` and ``fastdet.serving.FastdetRouter`` are
loaded on first use.
"""

from __future__ import annotations

from typing import Any

__all__ = ["FastdetRouter", "FastdetRuntime"]


def __getattr__(name: str) -> Any:
    # MLServer imports "fastdet.serving.FastdetRuntime" by name; the package itself stays light.
    if name == "FastdetRuntime":
        from .runtime import FastdetRuntime

        return FastdetRuntime
    if name == "FastdetRouter":
        from .router import FastdetRouter

        return FastdetRouter
    raise AttributeError(f"module 'fastdet.serving' has no attribute {name!r}")
