"""The model registry: versions of a detector, their evaluations, and which one is the champion.

Layout (``$FASTDET_REGISTRY``, default ``~/.fastdet/registry``), all plain JSON:

    REGISTRY/
      NAME/                             a model line, e.g. "pedestrian"
        champion.json                   {"version": V, "since": T, "history": [{"version", "since", "reason",
                                         "decision"}, ...]}  (absent until the first version)
        decisions/T_V.json              each promotion decision with both sides' numbers
        versions/V/
          version.json                  {"name", "version", "file", "sha256", "created", "parent", "source",
                                         "note"}
          model.onnx                    the model's bytes (an OpenVINO export folder: model/)
          evals/T_DATAHASH.json         eval reports of this version (``fastdet eval``'s JSON)

A server resolves NAME to ``champion.json``'s version, loads ``versions/V/<file>`` and checks its
SHA-256 against ``version.json`` (``Registry.model_path`` does all three). Folders are private
(0700) and files written 0600 by atomic rename, and a folder or file another user could have
written is refused, as for fastdet's engine caches: a registry decides what serves. Changes to
one NAME are serialised by a file lock (``NAME/.lock``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from ..errors import InputError, ModelError
from ..private_files import check_trusted, private_dir, read_trusted, write_atomic
from .hashing import model_sha256

ENV = "FASTDET_REGISTRY"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def default_root() -> Path:
    return Path(os.environ.get(ENV) or Path.home() / ".fastdet" / "registry").expanduser()


def _check_name(value: str, what: str) -> str:
    if not isinstance(value, str) or not _NAME.match(value):
        raise InputError(f"{what}: expected 1-64 letters, digits, '.', '_' or '-' (not starting with a symbol), "
                         f"got {value!r}")
    return value


_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def check_eval_report(report: Any, where: str = "eval report") -> dict[str, Any]:
    """``report`` if it has what the registry reads from an eval report (``fastdet eval --report``'s
    JSON); an ``InputError`` naming the first missing or wrong field otherwise."""
    def need(obj: Any, key: str, path: str) -> Any:
        if not isinstance(obj, dict) or key not in obj:
            raise InputError(f"{where}: missing {path} (is it a `fastdet eval --report` JSON?)")
        return obj[key]

    if not isinstance(report, dict):
        raise InputError(f"{where}: expected a JSON object, got {type(report).__name__}")
    model_sha = need(need(report, "model", "model"), "sha256", "model.sha256")
    if not isinstance(model_sha, str) or not _SHA256.match(model_sha):
        raise InputError(f"{where}: model.sha256 is not a SHA-256 hex digest: {model_sha!r}")
    data = need(report, "data", "data")
    sha = need(data, "sha256", "data.sha256")
    if not isinstance(sha, str) or not _SHA256.match(sha):
        raise InputError(f"{where}: data.sha256 is not a SHA-256 hex digest: {sha!r}")
    need(data, "path", "data.path")
    need(report, "backend", "backend")
    metrics = need(report, "metrics", "metrics")
    for key in ("map50_95", "map50", "person_ap50_95"):
        need(metrics, key, f"metrics.{key}")
    need(need(report, "latency_ms", "latency_ms"), "p50_ms", "latency_ms.p50_ms")
    return report


def check_report_model(report: dict[str, Any], sha256: str, what: str, where: str = "eval report") -> None:
    """An ``InputError`` unless ``report`` (checked by ``check_eval_report``) evaluated the model
    whose SHA-256 is ``sha256`` (``what`` names that model in the message)."""
    got = report["model"]["sha256"]
    if got != sha256:
        path = report["model"].get("path") or "unnamed"
        raise InputError(f"{where}: it evaluated another model ({path}, SHA-256 {got[:12]}...), not "
                         f"{what} (SHA-256 {sha256[:12]}...); evaluate this model and attach that report")


#: What ``Registry.add`` takes: an ONNX file, or an OpenVINO export folder (the IR with its weights).
MODEL_KINDS = "an ONNX file (.onnx) or an OpenVINO export folder (its .xml and .bin)"


def check_model(model: str | os.PathLike[str]) -> Path:
    """``model`` as a Path after checking it is a detector fastdet can load: an ONNX file (self-
    contained) or an OpenVINO export folder, read as ``fastdet info`` reads it (onnxruntime without
    graph optimisation, or OpenVINO for an IR). ``InputError`` for what is not a model file at all,
    ``ModelError`` for a model fastdet cannot use."""
    if not isinstance(model, (str, os.PathLike)) or not os.fspath(model).strip():
        raise InputError(f"registry add: an empty model path; expected {MODEL_KINDS}")
    src = Path(model).expanduser()
    if not src.exists():
        raise InputError(f"registry add: no such model: {str(src)!r}")
    if not src.is_dir():
        suffix = src.suffix.lower()
        if suffix == ".xml":
            # The registry keeps one file or one folder per version: the .bin would stay behind.
            raise InputError(f"registry add: {src.name} is an OpenVINO IR without its weights; add the export "
                             f"folder holding it and {src.with_suffix('.bin').name}")
        if suffix != ".onnx":
            raise InputError(f"registry add: {str(src)!r} is not a model: expected {MODEL_KINDS}")
        blob = src.read_bytes()
        if _external_data(blob):
            # The version would be the graph alone: its weights stay behind, outside the
            # registry's copy and its hash.
            raise InputError(f"registry add: {src.name} keeps its weights in separate files "
                             f"({', '.join(sorted(set(_external_data(blob)))[:3])}); add a self-contained ONNX "
                             "(onnx.save(model, path, save_as_external_data=False)) or an OpenVINO export folder")
    try:
        describe_model(src)
    except ModelError as e:
        raise ModelError(f"registry add: {str(src)!r} is not a detector fastdet can load: {e}") from None
    return src


def describe_model(path: Path) -> Any:
    """The ModelInfo of a model file or export folder, read as ``fastdet info`` reads it."""
    from .. import backends
    from ..model import check_model_path

    return backends.describe(check_model_path(path))


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def _stamp() -> str:
    return time.strftime("%Y%m%dT%H%M%S") + f"{time.time_ns() % 1_000_000_000 // 1000:06d}"


class Registry:
    """A registry folder (created private on first write)."""

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.root = Path(root).expanduser() if root else default_root()
        if self.root.exists() and not self.root.is_dir():
            raise InputError(f"registry: {str(self.root)!r} is a file, not a registry folder")

    # -- reading ---------------------------------------------------------------------------------

    def _read(self, path: Path) -> dict[str, Any]:
        try:
            return json.loads(read_trusted(path, "registry file"))
        except FileNotFoundError:
            raise
        except json.JSONDecodeError as e:
            raise ModelError(f"registry: {path} is corrupt ({e})") from None

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        check_trusted(self.root, "registry folder")
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and _NAME.match(p.name))

    def versions(self, name: str) -> list[dict[str, Any]]:
        """version.json of each version of ``name``, oldest first."""
        folder = self.root / _check_name(name, "name") / "versions"
        if not folder.is_dir():
            return []
        out = [self._read(p / "version.json") for p in folder.iterdir() if (p / "version.json").is_file()]
        return sorted(out, key=lambda v: (v["created"], v["version"]))

    def version(self, name: str, version: str) -> dict[str, Any]:
        path = self.root / _check_name(name, "name") / "versions" / _check_name(version, "version") / "version.json"
        try:
            return self._read(path)
        except FileNotFoundError:
            known = [v["version"] for v in self.versions(name)]
            raise InputError(f"registry: {name} has no version {version!r} (versions: {known or 'none'})") from None

    def check_known(self, name: str) -> str:
        """``name`` if the registry has a version of it; an ``InputError`` listing the names otherwise."""
        if not self.versions(name) and self.champion(name) is None:
            known = [n for n in self.names() if self.versions(n)]
            raise InputError(f"registry: no model named {name!r} in {self.root} (models: "
                             f"{', '.join(known) or 'none'})")
        return name

    def champion(self, name: str) -> dict[str, Any] | None:
        """champion.json of ``name`` ({"version", "since", "history"}), None before the first version."""
        try:
            return self._read(self.root / _check_name(name, "name") / "champion.json")
        except FileNotFoundError:
            return None

    def evals(self, name: str, version: str) -> list[dict[str, Any]]:
        folder = self.root / name / "versions" / _check_name(version, "version") / "evals"
        return [self._read(p) for p in sorted(folder.glob("*.json"))] if folder.is_dir() else []

    def decisions(self, name: str) -> list[dict[str, Any]]:
        folder = self.root / _check_name(name, "name") / "decisions"
        return [self._read(p) for p in sorted(folder.glob("*.json"))] if folder.is_dir() else []

    def model_path(self, name: str, version: str | None = None) -> Path:
        """The model file of ``version`` (default: the champion), after checking its SHA-256
        against the registry's record (``ModelError`` when it differs)."""
        if version is None:
            champ = self.champion(name)
            if champ is None:
                raise InputError(f"registry: no model named {name!r} in {self.root}")
            version = champ["version"]
        record = self.version(name, version)
        path = self.root / name / "versions" / version / record["file"]
        check_trusted(path, "registry model")
        got = model_sha256(path)
        if got != record["sha256"]:
            raise ModelError(f"registry: {name} {version}: {path} has SHA-256 {got[:12]}..., the registry recorded "
                             f"{record['sha256'][:12]}...: the file changed after it was added; refusing it")
        return path

    # -- writing ---------------------------------------------------------------------------------

    def _folder(self, *parts: str) -> Path:
        path = private_dir(self.root, "registry folder")
        for part in parts:
            path = private_dir(path / part, "registry folder")
        return path

    def _write(self, path: Path, data: dict[str, Any]) -> Path:
        return write_atomic(path, (json.dumps(data, indent=1, sort_keys=False) + "\n").encode())

    @contextmanager
    def locked(self, name: str) -> Iterator[None]:
        """Holds ``NAME/.lock`` (other processes changing ``name`` wait)."""
        try:
            from filelock import FileLock
        except ImportError:
            raise ImportError("the model registry needs filelock: pip install 'fastdet[quality]'") from None
        folder = self._folder(_check_name(name, "name"))
        with FileLock(str(folder / ".lock"), timeout=60, mode=0o600):
            yield

    def add(self, name: str, model: str | os.PathLike[str], *, version: str | None = None, parent: str | None = None,
            note: str = "", eval_report: dict[str, Any] | None = None) -> dict[str, Any]:
        """Copies ``model`` (an ONNX file or an OpenVINO export folder, checked to load as a
        detector: ``check_model``) in as a new version of ``name`` (default id: v1, v2, ...); the
        first version of a name becomes its champion. ``eval_report``: an eval report of this
        model to store with the version, checked (also that it evaluated these very bytes) before
        anything is added."""
        _check_name(name, "name")
        src = check_model(model)
        if eval_report is not None:
            check_eval_report(eval_report)
            check_report_model(eval_report, model_sha256(src), str(src))
        blob = b"" if src.is_dir() else src.read_bytes()
        with self.locked(name):
            existing = {v["version"] for v in self.versions(name)}
            # A version folder without version.json was left by an add that did not finish: its id
            # is taken (never reused, so nothing half-written is mistaken for a new version).
            versions_dir = self.root / name / "versions"
            taken = existing | ({p.name for p in versions_dir.iterdir()} if versions_dir.is_dir() else set())
            if version is None:
                n = len(existing) + 1
                while f"v{n}" in taken:
                    n += 1
                version = f"v{n}"
            _check_name(version, "version")
            if version in existing:
                raise InputError(f"registry add: {name} already has a version {version!r}")
            if version in taken:
                raise InputError(f"registry add: {versions_dir / version} was left by an interrupted add (it has no "
                                 f"version.json); remove it or choose another --version")
            if parent is not None and parent not in existing:
                raise InputError(f"registry add: parent {parent!r} is not a version of {name} ({sorted(existing)})")
            folder = self._folder(name, "versions", version)
            if src.is_dir():
                file = "model"
                # Copied beside its final place and renamed in, so a crash leaves no half-copied model/.
                tmp = Path(tempfile.mkdtemp(prefix=".model.", dir=folder))
                try:
                    shutil.copytree(src, tmp / file)
                    for p in [tmp / file, *(tmp / file).rglob("*")]:
                        os.chmod(p, 0o700 if p.is_dir() else 0o600)
                    os.rename(tmp / file, folder / file)
                finally:
                    shutil.rmtree(tmp, ignore_errors=True)
            else:
                file = "model" + (src.suffix.lower() or ".onnx")
                write_atomic(folder / file, blob)
            record = {"name": name, "version": version, "file": file, "sha256": model_sha256(folder / file),
                      "created": now(), "parent": parent, "source": str(src.resolve()), "note": note}
            self._write(folder / "version.json", record)
            if self.champion(name) is None:
                self._write(self._folder(name) / "champion.json",
                            {"version": version, "since": record["created"],
                             "history": [{"version": version, "since": record["created"],
                                          "reason": "first version", "decision": None}]})
            if eval_report is not None:
                self.add_eval(name, version, eval_report)
        return record

    def add_eval(self, name: str, version: str, report: dict[str, Any]) -> Path:
        """Stores an eval report (``fastdet eval``'s JSON) of ``version``'s model with it (a report of
        another model is an ``InputError``)."""
        check_eval_report(report)
        record = self.version(name, version)
        check_report_model(report, record["sha256"], f"{name} {version}")
        folder = self._folder(name, "versions", version, "evals")
        return self._write(folder / f"{_stamp()}_{report['data']['sha256'][:12]}.json", report)

    def decide(self, name: str, decision: dict[str, Any]) -> Path:
        """Writes a promotion decision; when it promotes, moves the champion pointer (history kept)."""
        with self.locked(name):
            champ = self.champion(name)
            if champ is None or champ["version"] != decision["champion"]["version"]:
                raise InputError(f"registry: the champion of {name} changed while the challenger was evaluated; "
                                 f"run promote again")
            path = self._folder(name, "decisions") / f"{_stamp()}_{decision['challenger']['version']}.json"
            decision["file"] = str(path.relative_to(self.root))
            self._write(path, decision)
            if decision["promoted"]:
                since = now()
                champ["history"].append({"version": decision["challenger"]["version"], "since": since,
                                         "reason": decision["reason"], "decision": decision["file"]})
                champ["version"], champ["since"] = decision["challenger"]["version"], since
                self._write(self.root / name / "champion.json", champ)
        return path


def _external_data(blob: bytes) -> list[str]:
    from ..onnx_external_data import external_data_locations

    try:
        return external_data_locations(blob)
    except ValueError:  # not a protobuf: the runtime rejects it when the version is used
        return []
