"""The Detectors a detector model answers with: one model file, or the versions of a registry
model line, loaded on first use and kept (least recently used dropped beyond ``cached_versions``).

In registry mode the default version is the champion, read again whenever ``champion.json``
changes, so a promotion takes effect without restarting the server.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from pathlib import Path

from ..detector import Detector
from ..errors import Error, InputError
from .errors import BadRequest, ServingError, UpstreamError
from .options import DetectorOptions


class ChampionPointer:
    """The champion version of a registry model line, re-read when its champion.json changes."""

    def __init__(self, registry: object, name: str) -> None:
        self._registry = registry
        self._name = name
        self._path = Path(registry.root) / name / "champion.json"  # type: ignore[attr-defined]
        self._stamp: tuple[int, int, int] | None = None
        self._version: str | None = None
        self._lock = threading.Lock()

    def version(self) -> str:
        try:
            st = os.stat(self._path)
            stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        except FileNotFoundError:
            raise UpstreamError(f"registry: model line {self._name!r} has no champion yet") from None
        with self._lock:
            if stamp != self._stamp:
                champ = self._registry.champion(self._name)  # type: ignore[attr-defined]
                if champ is None:
                    raise UpstreamError(f"registry: model line {self._name!r} has no champion yet")
                self._version, self._stamp = champ["version"], stamp
            assert self._version is not None
            return self._version


class Detectors:
    """Detector per version, loaded on demand; thread-safe."""

    def __init__(self, options: DetectorOptions, label: str | None = None) -> None:
        self.options = options
        self._cache: OrderedDict[str, Detector] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[str, threading.Lock] = {}
        self._registry = None
        self._champion: ChampionPointer | None = None
        if options.registry is not None:
            from ..quality.registry import Registry

            self._registry = Registry(options.registry_root)
            self._champion = ChampionPointer(self._registry, options.registry)
        #: The version name a single model file answers as.
        self.file_version = label or (options.model.stem if options.model else "")

    def default_version(self) -> str:
        if self._champion is None:
            return self.file_version
        return self.options.version or self._champion.version()

    def _path(self, version: str) -> Path:
        if self._registry is None:
            if version != self.file_version:
                raise BadRequest(f"version: this model serves one file ({self.file_version!r}); got {version!r}")
            assert self.options.model is not None
            return self.options.model
        try:
            return self._registry.model_path(self.options.registry, version)  # type: ignore[arg-type]
        except InputError as e:  # an unknown version: the client's mistake
            raise BadRequest(str(e)) from None
        except (Error, OSError) as e:  # a tampered or unreadable model: the server's problem
            raise UpstreamError(f"version {version!r} cannot be loaded: {e}") from None

    def get(self, version: str | None) -> tuple[str, Detector]:
        """(version, Detector) for ``version`` (None: the default)."""
        version = version or self.default_version()
        with self._lock:
            det = self._cache.get(version)
            if det is not None:
                self._cache.move_to_end(version)
                return version, det
            gate = self._loading.setdefault(version, threading.Lock())
        try:
            with gate:  # one load per version; other versions keep serving meanwhile
                with self._lock:
                    det = self._cache.get(version)
                if det is None:
                    path = self._path(version)
                    try:
                        det = Detector(path, **self.options.detector_kwargs())
                    except ServingError:
                        raise
                    except (Error, OSError, ImportError) as e:
                        raise UpstreamError(f"version {version!r} cannot be loaded: {e}") from None
                with self._lock:
                    self._cache[version] = det
                    self._cache.move_to_end(version)
                    while len(self._cache) > self.options.cached_versions:
                        self._cache.popitem(last=False)
        finally:
            # Loaded or not (an unknown version, say), its gate goes: no lock kept per name asked for.
            with self._lock:
                if self._loading.get(version) is gate:
                    del self._loading[version]
        return version, det
