"""The MLServer settings ``fastdet serve`` writes: ``settings.json`` for the server and a
``model-settings.json`` each for the router (the public model, NAME) and the detector model
(NAME-detector, with adaptive batching, in the inference worker pool).

    RUN_DIR/settings.json
    RUN_DIR/NAME/model-settings.json            FastdetRouter, in the main process
    RUN_DIR/NAME-detector/model-settings.json   FastdetRuntime, batched, in the workers
    RUN_DIR/internal.key                        with a policy: the detector serves only the router
"""

from __future__ import annotations

import json
import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..private_files import private_dir, write_atomic

#: Most boxes per image a served model returns (its settings and ``fastdet serve --max-det``); here,
#: where ``fastdet serve`` reads it without importing MLServer.
MAX_DET = 10000


@dataclass
class ServeConfig:
    """What ``fastdet serve`` was asked for. Exactly one of ``model`` (a file or an OpenVINO
    export folder) and ``registry`` (a model line of the registry at ``registry_root``)."""

    name: str
    model: Path | None = None
    registry: str | None = None
    registry_root: Path | None = None
    host: str = "127.0.0.1"
    http_port: int = 8080
    grpc_port: int = 8081
    metrics_port: int = 8082
    workers: int = 1
    batch_size: int = 8
    batch_time_ms: float = 5.0
    detector: dict[str, Any] = field(default_factory=dict)
    policy: Path | None = None
    max_pixels: int | None = None
    decision_log: Path | None = None

    @property
    def detector_name(self) -> str:
        return f"{self.name}-detector"


def model_name(text: str) -> str:
    """A model name MLServer's URLs take, made from a file name: letters, digits, '.', '_', '-'."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.") or "model"
    return name[:64]


def build(config: ServeConfig, run_dir: Path) -> dict[str, dict[str, Any]]:
    """The settings files' contents, by path relative to ``run_dir``."""
    server = {
        "host": config.host, "http_port": config.http_port, "grpc_port": config.grpc_port,
        "metrics_port": config.metrics_port, "parallel_workers": config.workers, "debug": False,
        # Out of the user's working folder: MLServer makes these in the current folder otherwise.
        "metrics_dir": str(run_dir / ".metrics"), "environments_dir": str(run_dir / ".envs"),
        # gRPC's 4 MB default refuses a 1080p raw frame; 64 MB takes 4K frames as NPY.
        "grpc_max_message_length": 64 * 1024 * 1024,
    }
    key_file = str(run_dir / "internal.key") if config.policy is not None else None
    det_extra: dict[str, Any] = {k: v for k, v in config.detector.items() if v is not None}
    det_params: dict[str, Any] = {"extra": det_extra}
    if config.registry is not None:
        det_extra["registry"] = config.registry
        if config.registry_root is not None:
            det_extra["registry_root"] = str(config.registry_root)
    else:
        assert config.model is not None
        det_params["uri"] = str(config.model)
    if key_file:
        det_extra["internal_key_file"] = key_file
    if config.max_pixels:
        det_extra["max_pixels"] = config.max_pixels
    detector: dict[str, Any] = {"name": config.detector_name, "implementation": "fastdet.serving.FastdetRuntime",
                                "parameters": det_params}
    if config.batch_size > 1 and config.batch_time_ms > 0:
        detector["max_batch_size"] = config.batch_size
        detector["max_batch_time"] = config.batch_time_ms / 1000.0
    router_extra: dict[str, Any] = {"detector": config.detector_name, "upstream": f"127.0.0.1:{config.grpc_port}"}
    if config.registry is not None:
        router_extra["registry"] = config.registry
        if config.registry_root is not None:
            router_extra["registry_root"] = str(config.registry_root)
    if config.policy is not None:
        router_extra["policy"] = str(config.policy)
        router_extra["internal_key_file"] = key_file
    if config.max_pixels:
        router_extra["max_pixels"] = config.max_pixels
    if config.decision_log is not None:
        router_extra["decision_log"] = str(config.decision_log)
    # The router does no inference: it runs in the main process (MLServer still honours a model's
    # own parallel_workers: 0, though it logs that the setting moved to the server).
    router = {"name": config.name, "implementation": "fastdet.serving.FastdetRouter", "parallel_workers": 0,
              "parameters": {"extra": router_extra}}
    return {"settings.json": server, f"{config.name}/model-settings.json": router,
            f"{config.detector_name}/model-settings.json": detector}


def write(files: dict[str, dict[str, Any]], run_dir: Path, with_key: bool) -> None:
    """Writes the settings (and, with a policy, a new internal key) into ``run_dir`` (private)."""
    private_dir(run_dir, "serving folder")
    for rel, doc in files.items():
        path = run_dir / rel
        private_dir(path.parent, "serving folder")
        write_atomic(path, (json.dumps(doc, indent=1) + "\n").encode())
    if with_key:
        write_atomic(run_dir / "internal.key", secrets.token_urlsafe(32).encode())
    metrics_dir = run_dir / ".metrics"
    os.makedirs(metrics_dir, mode=0o700, exist_ok=True)
    for stale in metrics_dir.glob("*.db"):  # a previous run's counters would be summed into this one's
        stale.unlink()
