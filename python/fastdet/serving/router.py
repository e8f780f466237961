"""``FastdetRouter``: the front model. It answers one image per request and runs the business
rules MLServer cannot run inside a batch: MLServer's adaptive batching merges the requests'
parameters (headers included: the last request's win), so who is calling, what they may use and
which version answers are decided here, request by request, before the image joins a batch in
the detector model (``FastdetRuntime``).

Per request: the API key (``Authorization: Bearer KEY`` or ``x-api-key``, which MLServer hands
over in the request's parameters) names the client (401 otherwise); its token bucket must have a
token (429); the image must be one image of at most the allowed pixels (400, 413); the classes it
asks for and the version it pins must be allowed (403); the routing rules pick the version
(``fastdet.serving.routing``); the detector model answers; the client's classes are kept; the
decision is logged as one JSON line and counted. A shadow run, when sampled, starts after the
answer is returned and never changes it.

The router does no inference of its own, so it is meant to run in the server's main process
(``parallel_workers: 0`` in its model-settings.json, as ``fastdet serve`` writes it): one hop
fewer, and its errors reach the client as it raised them.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from typing import Any

import numpy as np
from mlserver import MLModel
from mlserver.types import InferenceRequest, InferenceResponse, Parameters

from . import decisions, metrics
from .detectors import ChampionPointer
from .errors import BadRequest, Forbidden, RateLimited, ServingError, TooLarge, Unauthenticated, error_for
from .images import check_frame, check_pixels, item_size, unwrap, wrap
from .keys import key_from_headers, match
from .options import RouterOptions, parameter, read_internal_key, text_parameter
from .policy import ANONYMOUS, Client, Policy, PolicyError, PolicyFile
from .rate_limit import SharedBuckets, default_folder
from .routing import Route, decide
from .tensors import router_input, router_outputs
from .upstream import Answer, Upstream

log = logging.getLogger("fastdet.serving")

_OPEN_CLIENT = Client(ANONYMOUS)
#: The registry's rule for version names (``fastdet.quality.registry``); nothing else is a version.
VERSION_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def _npy(frame: np.ndarray) -> bytes:
    """A frame as an NPY item (numpy's own header, then the pixels)."""
    import io

    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(frame), allow_pickle=False)
    return buf.getvalue()


class FastdetRouter(MLModel):
    """The front model (settings: ``fastdet.serving.options.RouterOptions``)."""

    async def load(self) -> bool:
        self._options = RouterOptions.from_settings(self.settings)
        self._policy = PolicyFile(self._options.policy)
        self._key = read_internal_key(self._options.internal_key_file)
        self._upstream = Upstream(self._options.upstream, self._options.detector, self._options.timeout_s,
                                  self._options.extra_headers)
        self._registry = None
        self._champion: ChampionPointer | None = None
        if self._options.registry is not None:
            from ..quality.registry import Registry

            self._registry = Registry(self._options.registry_root)
            self._champion = ChampionPointer(self._registry, self._options.registry)
            self._champion.version()  # fails the load when the line has no champion
        self._checked: Policy | None = None
        self._check_policy(self._policy.current())
        self._buckets: SharedBuckets | None = None
        self._log = decisions.logger(self._options.decision_log, self.name)
        self._shadows: set[asyncio.Task[None]] = set()
        metrics.get()
        return True

    async def unload(self) -> bool:
        for task in list(self._shadows):
            task.cancel()
        await self._upstream.close()
        if self._buckets is not None:
            self._buckets.close()
        return True

    # -- policy ------------------------------------------------------------------------------------

    def _check_policy(self, policy: Policy) -> None:
        """Versions the routing rules name must exist (checked once per policy read)."""
        if policy is self._checked:
            return
        rules = policy.routing_for(self.name)
        for version in filter(None, (rules.champion, rules.challenger)):
            if self._registry is None:
                raise PolicyError(f"routing.{self.name}: names version {version!r}, but this router serves a single "
                                  f"model file, not a registry line")
            self._registry.version(self._options.registry, version)
        self._checked = policy

    def _client(self, policy: Policy, headers: Any) -> Client:
        if policy.open:
            return _OPEN_CLIENT
        try:
            key = key_from_headers(headers if isinstance(headers, dict) else None)
        except ValueError as e:
            raise Unauthenticated(str(e)) from None
        if key is None:
            raise Unauthenticated("no API key: send 'Authorization: Bearer KEY' or 'x-api-key: KEY'")
        name = match(key, policy.key_hashes())
        if name is None:
            raise Unauthenticated("unknown API key")
        return policy.clients[name]

    def _take_token(self, policy: Policy, client: Client) -> None:
        if client.rate is None:
            return
        if self._buckets is None:  # one bucket per client name: a policy edit refills nobody's
            assert policy.path is not None
            self._buckets = SharedBuckets(default_folder(policy.path))
        wait = self._buckets.take(client.name, client.rate, client.burst or 1.0)
        if wait > 0:
            raise RateLimited(f"client {client.name!r} is over its rate of {client.rate:g} requests per second; "
                              f"retry in {wait:.2f} s")

    @staticmethod
    def _classes(client: Client, payload: InferenceRequest) -> set[int | str] | None:
        """The classes to return: the client's allowed ones, narrowed by the request's ``classes``
        parameter (a list or comma-separated names/ids); asking for others is a 403."""
        asked = parameter(payload.parameters, "classes")
        allowed = None if client.classes is None else set(client.classes)
        if asked is None:
            return allowed
        items = asked.split(",") if isinstance(asked, str) else asked
        if not isinstance(items, list) or not items:
            raise BadRequest(f"parameter 'classes': expected class names or ids, got {asked!r}")
        wanted: set[int | str] = set()
        for c in items:
            if not isinstance(c, (str, int)) or isinstance(c, bool):
                raise BadRequest(f"parameter 'classes': expected class names or ids, got an item of type "
                                 f"{type(c).__name__}")
            c = c.strip() if isinstance(c, str) else c
            wanted.add(int(c) if isinstance(c, str) and c.isdigit() else c)
        if allowed is not None:
            refused = sorted(map(str, wanted - allowed))
            if refused:
                raise Forbidden(f"client {client.name!r} may not ask for classes {refused}")
        return wanted

    # -- one request -------------------------------------------------------------------------------

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        t0 = time.perf_counter()
        params = payload.parameters
        client_name: str | None = None
        route: Route | None = None
        key: str | None = None
        answer: Answer | None = None
        status = 200
        error: str | None = None
        try:
            policy = self._policy.current()
            try:
                self._check_policy(policy)
            except (PolicyError, ServingError, ValueError) as e:
                log.error("policy %s: routing rules name what the registry lacks; the previous rules stay: %s",
                          policy.path, e)
                policy = self._checked or policy
            client = self._client(policy, getattr(params, "headers", None))
            client_name = client.name
            self._take_token(policy, client)
            image = router_input(payload)
            limit = min(self._options.max_pixels, client.max_pixels or self._options.max_pixels)
            if isinstance(image, np.ndarray):
                check_frame(image, limit)
                item = _npy(image)
            else:
                if not image:
                    raise BadRequest("image: empty (0 bytes)")
                size = item_size(image)
                if size is not None:
                    check_pixels(*size, limit)
                item = image
            classes = self._classes(client, payload)
            rules = policy.routing_for(self.name)
            if rules.key is not None:
                key = text_parameter(params, rules.key)
                if key is None:
                    headers = getattr(params, "headers", None) or {}
                    key = headers.get(rules.key.lower()) if isinstance(headers, dict) else None
            pinned = text_parameter(params, "version")
            if pinned is not None and not VERSION_NAME.fullmatch(pinned):
                raise BadRequest("parameter 'version': a version name is 1 to 64 letters, digits, '.', '_' or '-', "
                                 "starting with a letter or digit")
            champion = self._champion.version() if self._champion is not None else None
            route = decide(self.name, rules, client, champion, pinned=pinned, key=key)
            envelope = wrap(item, self._key, route.version)
            answer = await self._upstream.detect(envelope)
            if answer.status != 200:
                # The image's own problems reach the client; anything else is the server's.
                raise error_for(answer.status if answer.status in (400, 413) else 502,
                                answer.message or f"the detector model answered {answer.status}")
            if answer.height * answer.width > limit:  # a format whose header Pillow cannot read
                raise TooLarge(f"image: {answer.width}x{answer.height} is more than the {limit / 1e6:g} megapixels "
                               f"allowed")
            response = self._respond(answer, route, classes, client_name)
            if route.shadow is not None:
                self._start_shadow(envelope, route.shadow, answer, client_name, key)
            return response
        except ServingError as e:
            status, error = e.status_code, str(e)
            raise
        except Exception as e:
            status, error = 500, f"{type(e).__name__}: {e}"
            log.exception("router %s: request failed", self.name)
            raise
        finally:
            seconds = time.perf_counter() - t0
            version = answer.version if answer is not None else (route.version if route else None)
            route_name = route.route if route else "none"
            m = metrics.get()
            # Only a version that answered labels a series: a client naming versions at will must not
            # make new time series without end.
            answered = answer.version if answer is not None and status == 200 else None
            m["requests"].labels(client_name or "unknown", self.name, answered or "unknown", route_name,
                                 str(status)).inc()
            m["latency"].labels(self.name, route_name).observe(seconds)
            decisions.write(self._log, "request", request=payload.id, client=client_name, model=self.name,
                            version=version, route=route.route if route else None, rule=route.rule if route else None,
                            key=key, shadow=route.shadow if route else None, status=status,
                            latency_ms=round(seconds * 1000, 3),
                            boxes=len(answer.scores) if answer is not None and status == 200 else None, error=error)

    def _respond(self, answer: Answer, route: Route, classes: set[int | str] | None,
                 client: str | None) -> InferenceResponse:
        keep = np.ones(len(answer.scores), bool)
        if classes is not None:
            keep = np.array([int(c) in classes or n in classes for c, n in zip(answer.class_ids, answer.names)], bool)
            keep = keep.reshape(len(answer.scores))
        names = [n for n, k in zip(answer.names, keep) if k]
        summary = {"model": self.name, "version": answer.version, "route": route.route, "height": answer.height,
                   "width": answer.width}
        outputs = router_outputs(answer.xyxy[keep], answer.scores[keep], answer.class_ids[keep], names, summary)
        headers = {"x-fastdet-version": answer.version or "", "x-fastdet-route": route.route}
        return InferenceResponse(model_name=self.name, model_version=answer.version, outputs=outputs,
                                 parameters=Parameters(route=route.route, rule=route.rule, headers=headers))

    # -- shadow ------------------------------------------------------------------------------------

    def _start_shadow(self, envelope: bytes, version: str, champion: Answer, client: str | None,
                      key: str | None) -> None:
        m = metrics.get()["shadow"]
        if len(self._shadows) >= self._options.shadow_max_in_flight:
            m.labels(self.name, "skipped").inc()
            return
        item = wrap(unwrap(envelope, self._key)[0].tobytes(), self._key, version)
        task = asyncio.get_running_loop().create_task(self._shadow(item, version, champion, client, key))
        self._shadows.add(task)
        task.add_done_callback(self._shadows.discard)

    async def _shadow(self, item: bytes, version: str, champion: Answer, client: str | None, key: str | None) -> None:
        """Runs ``version`` on the image once the response is on its way, and compares."""
        await asyncio.sleep(0)  # let the response go first
        m = metrics.get()
        t0 = time.perf_counter()
        try:
            other = await self._upstream.detect(item)
            if other.status != 200:
                raise RuntimeError(f"status {other.status}: {other.message}")
            agreement = await asyncio.to_thread(_agreement, champion, other)
        except Exception as e:  # noqa: BLE001 - a shadow run never affects serving; it is counted and logged
            m["shadow"].labels(self.name, "failed").inc()
            decisions.write(self._log, "shadow", model=self.name, champion=champion.version, challenger=version,
                            client=client, key=key, status="failed", error=str(e))
            return
        m["shadow"].labels(self.name, "compared").inc()
        m["agreement"].labels(self.name, champion.version or "", version).observe(agreement["agreement"])
        decisions.write(self._log, "shadow", model=self.name, champion=champion.version, challenger=version,
                        client=client, key=key, status="compared", agreement=round(agreement["agreement"], 4),
                        champion_boxes=len(champion.scores), challenger_boxes=len(other.scores),
                        latency_ms=round((time.perf_counter() - t0) * 1000, 3))


def _agreement(a: Answer, b: Answer) -> dict[str, float]:
    """``fastdet.quality.compare``'s agreement of two answers for one image."""
    from ..quality.compare import Agreement
    from ..results import Detections

    agreement = Agreement()
    shape = (a.height, a.width)
    agreement.add(Detections(a.xyxy, a.scores, a.class_ids, {}, shape), Detections(b.xyxy, b.scores, b.class_ids, {}, shape))
    return agreement.summary()
