"""The app factory: nothing is built at import time; the lifespan loads model and database."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import inspect
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from fraudwatch import __version__
from fraudwatch.errors import ConfigError
from fraudwatch.serving._config import ServiceConfig
from fraudwatch.serving._errors import install_error_handlers
from fraudwatch.serving._fastpath import SCORE_PATH
from fraudwatch.serving._metrics import ServiceMetrics
from fraudwatch.serving._middleware import ServiceMiddleware
from fraudwatch.serving._protocols import Clock, ScorerLike, system_clock
from fraudwatch.serving._routes import SECURITY_SCHEME, build_routers
from fraudwatch.serving._runtime import GcPauses, LoopMonitor
from fraudwatch.serving._service import DecisionService, ScorerFactory
from fraudwatch.store import Store

__all__ = [
    "CONFIG_ENV",
    "app_from_env",
    "config_from_env",
    "create_app",
    "default_scorer_factory",
]

log = logging.getLogger("fraudwatch.serving")


class _ServiceApp(FastAPI):
    """FastAPI, with ``POST /v1/score`` handed straight to the service middleware.

    Every other request goes through FastAPI's stack as usual. A scoring request skips the
    layers in front of :class:`ServiceMiddleware` (FastAPI's and Starlette's entry points,
    the server-error, exception-telemetry and body-limit middlewares: five coroutine calls
    and a ``send`` wrapper, about 2% of a request's CPU): the service middleware answers
    every error itself, and anything it does not answer on its fast path goes on to the
    routes below it exactly as before.
    """

    _service_entry: ASGIApp | None = None

    def build_middleware_stack(self) -> ASGIApp:
        stack = super().build_middleware_stack()
        node: Any = stack
        while node is not None and not isinstance(node, ServiceMiddleware):
            node = getattr(node, "app", None)
        self._service_entry = node
        return stack

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.middleware_stack is None:  # built on first use, as Starlette does
            self.middleware_stack = self.build_middleware_stack()
        entry = self._service_entry
        if (
            entry is not None
            and scope["type"] == "http"
            and scope["path"] == SCORE_PATH
            and scope["method"] == "POST"
            and not self.root_path
        ):
            scope["app"] = self  # as Starlette's entry point sets it
            await entry(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


CONFIG_ENV = "FRAUDWATCH_SERVICE_CONFIG"
"""Environment variable holding the :class:`ServiceConfig` as JSON (workers, Lambda)."""

_DESCRIPTION = """\
Real-time fraud decisions for card and payment transactions.

Authenticate with an API key: `Authorization: Bearer fw_...` (scopes `score`, `feedback`,
`admin`). Every error body is `{"error": {"code", "message", "request_id", "fields"?}}`; quote
the request id (also in the `X-Request-ID` header) when reporting a problem.
"""


def default_scorer_factory(config: ServiceConfig) -> ScorerFactory:
    """Build scorers from the registry named in ``config``.

    At start-up (``current is None``) the bundle, rules, online state store and warm-start
    snapshot are loaded by :func:`fraudwatch.scoring.load_scorer`. On reload the champion's
    bundle is loaded again and the rules re-read, and the new scorer *shares the current
    one's state store*: the cards' history carries over.
    """

    def build(current: ScorerLike | None) -> ScorerLike:
        from fraudwatch.scoring import Scorer, load_scorer, resolve_bundle

        if current is None:
            return load_scorer(
                config.model,
                config.registry,
                config.state,
                config.rules_path,
                config.snapshot_path,
                explain=config.explain,
                explainer=config.explainer,
                state_prefix=config.state_prefix,
            )
        if not isinstance(current, Scorer):
            raise ConfigError("reloading needs a fraudwatch.scoring.Scorer to take state from")
        bundle = resolve_bundle(config.model, config.registry)
        ruleset = None
        if config.rules_path is not None:
            from fraudwatch.rules import load_rules
            from fraudwatch.schema import COLUMNS

            known = [*bundle.feature_names, *(c.name for c in COLUMNS if not c.label)]
            ruleset = load_rules(Path(config.rules_path), known_fields=known)
        return Scorer(
            bundle, current.store, ruleset, explain=config.explain, explainer=config.explainer
        )

    return build


def _state_ping(scorer: ScorerLike, cfg: ServiceConfig) -> tuple[Callable[[], None] | None, Any]:
    """A readiness probe of the online state: the store's own ``ping``, or a Redis PING.

    Returns ``(probe, resource to close at shutdown)``.
    """
    store = getattr(scorer, "store", None)
    ping = getattr(store, "ping", None)
    if callable(ping):

        def check() -> None:
            ping()

        return check, None
    if cfg.shared_state:
        import redis

        client = redis.Redis.from_url(cfg.state, socket_timeout=1.0, socket_connect_timeout=1.0)

        def check_redis() -> None:
            client.ping()

        return check_redis, client
    return None, None


async def _reload_watcher(
    app: FastAPI, config: ServiceConfig, svc: DecisionService, stop: asyncio.Event
) -> None:
    """With shared (Redis) state, follow reloads asked of other workers.

    ``POST /v1/models/reload`` on one worker increments a generation counter in Redis; every
    worker polls it and reloads when it changes. Redis errors are logged and retried.
    """
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(config.state, socket_timeout=2.0, socket_connect_timeout=2.0)
    key = f"{config.state_prefix}serving:reload-generation"
    unset = object()
    seen: dict[str, Any] = {"gen": unset}

    async def notify() -> None:
        seen["gen"] = await client.incr(key)

    app.state.notify_reload = notify
    try:
        while not stop.is_set():
            try:
                raw = await client.get(key)
                current = int(raw) if raw is not None else 0
            except Exception as exc:  # Redis hiccup: readiness reports it; keep polling
                log.warning("reload check failed: %s", exc)
            else:
                if seen["gen"] is unset:
                    seen["gen"] = current
                elif current != seen["gen"]:
                    seen["gen"] = current
                    try:
                        await svc.reload()
                    except Exception as exc:
                        log.error("reload asked by another worker failed: %s", exc, exc_info=exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=config.reload_poll_seconds)
    finally:
        with contextlib.suppress(Exception):
            await client.aclose()


def create_app(
    config: ServiceConfig | None = None,
    *,
    scorer: ScorerLike | None = None,
    store: Store | None = None,
    clock: Clock | None = None,
    timer: Callable[[], float] | None = None,
    scorer_factory: ScorerFactory | None = None,
    ping_state: Callable[[], None] | None = None,
) -> FastAPI:
    """Create the decision service's FastAPI app.

    Nothing heavy happens here: the model, the state store and the database are loaded by
    the app's lifespan (when the server starts), unless they are passed in.

    Parameters
    ----------
    config:
        Service configuration (defaults: champion from ``./models``, in-process state,
        ``sqlite:///fraudwatch.db``, auth on).
    scorer:
        A ready scorer; otherwise built by ``scorer_factory`` at start-up.
    store:
        A ready store; otherwise opened from ``config.database_url`` (migrated when
        ``config.migrate``) and closed at shutdown.
    clock:
        Wall clock for audit and label timestamps (UTC-aware).
    timer:
        Monotonic seconds for latencies (``time.perf_counter``).
    scorer_factory:
        Builds the champion's scorer (start-up and reload); default: the registry in
        ``config``.
    ping_state:
        Readiness check of the online state store; default: the scorer's store ``ping``.

    Returns
    -------
    fastapi.FastAPI
        Serve it with uvicorn, or call it in-process (tests, Lambda).
    """
    cfg = config or ServiceConfig()
    wall = clock or system_clock
    mono = timer or time.perf_counter
    metrics = ServiceMetrics()
    factory = scorer_factory or (None if scorer is not None else default_scorer_factory(cfg))
    freezer = FreezeSurvivors()
    pauses = GcPauses()  # time.perf_counter: lock-free, safe inside a collection

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own_store = store is None
        st = store
        if st is None:
            from fraudwatch.store import open_store

            st = await asyncio.to_thread(
                open_store, cfg.database_url, upgrade=cfg.migrate, clock=wall
            )
        watcher: asyncio.Task[None] | None = None
        svc: DecisionService | None = None
        probe_client: Any = None
        stop_watcher = asyncio.Event()
        stop_monitor = asyncio.Event()
        gc_tuned = False
        monitor_task: asyncio.Task[None] | None = None
        try:
            sc = scorer
            if sc is None:
                assert factory is not None
                sc = await asyncio.to_thread(factory, None)
            svc = DecisionService(
                cfg,
                scorer=sc,
                store=st,
                metrics=metrics,
                clock=wall,
                timer=mono,
                scorer_factory=factory,
            )
            svc.start()
            app.state.service = svc
            probe, probe_client = (ping_state, None) if ping_state else _state_ping(sc, cfg)
            app.state.ping_state = probe
            app.state.notify_reload = None
            if cfg.shared_state and factory is not None:
                watcher = asyncio.get_running_loop().create_task(
                    _reload_watcher(app, cfg, svc, stop_watcher)
                )
            if not cfg.auth:
                log.warning(
                    "authentication is disabled (--no-auth): anyone who can reach this port "
                    "can score transactions and read cases; use it for local development only"
                )
            log.info(
                "decision service ready",
                extra={"model_version": sc.model_version, "state": cfg.state.split("@")[-1]},
            )
            if cfg.gc_freeze:
                # Objects alive now (model, caches) never need collecting: keep gen-2 pauses
                # off the request path (see PERFORMANCE-NOTES.md).
                gc.collect()
                gc.freeze()
                # Collect the (now empty) old generation once more: CPython waits for the
                # objects promoted since the last full collection to reach a quarter of what
                # it found then, which would otherwise count the frozen start-up objects.
                gc.collect()
                # A full collection after every collection of the middle generation, not every
                # eleventh: with the survivors frozen, each walks only what was promoted since
                # the one before, so the same work comes in shorter pauses (the thaw keeps its
                # pace: FreezeSurvivors.thaw_every counts these).
                _frequent_full_collections(True)
                gc_tuned = True
                loop = asyncio.get_running_loop()
                freezer.settle = lambda: loop.call_soon_threadsafe(gc.collect)
                gc.callbacks.append(freezer)
            if cfg.loop_monitor_ms > 0:
                pauses.install()
                monitor = LoopMonitor(
                    metrics.loop_lag,
                    metrics.gc_pause,
                    pauses,
                    interval_s=cfg.loop_monitor_ms / 1000.0,
                    timer=time.perf_counter,  # the real clock, even when a test injects one
                )
                monitor_task = asyncio.get_running_loop().create_task(monitor.run(stop_monitor))
            yield
        finally:
            if freezer in gc.callbacks:
                gc.callbacks.remove(freezer)
            if gc_tuned:
                _frequent_full_collections(False)
            pauses.remove()
            if monitor_task is not None:
                stop_monitor.set()
                monitor_task.cancel()  # it only sleeps between samples
                await asyncio.wait([monitor_task], timeout=5.0)
            if watcher is not None:
                stop_watcher.set()  # no cancel(): a cancelled redis.asyncio call can eat it
                done, _ = await asyncio.wait([watcher], timeout=5.0)
                if not done:
                    watcher.cancel()
            if svc is not None:
                await svc.aclose()
            if probe_client is not None:
                probe_client.close()
            if own_store:
                st.close()

    app = _ServiceApp(
        title="fraudwatch decision API",
        version=__version__,
        description=_DESCRIPTION,
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
        # a body sent without Content-Type is read as JSON (curl -d sends a form type: 415)
        strict_content_type=False,
        **_no_native_telemetry(),
    )
    install_error_handlers(app)
    for router in build_routers(sagemaker=cfg.sagemaker):
        app.include_router(router)
    _tailor_openapi(app, cfg)
    app.add_middleware(
        ServiceMiddleware, metrics=metrics, max_body_bytes=cfg.max_body_bytes, timer=mono
    )
    app.state.metrics = metrics
    app.state.config = cfg
    return app


class FreezeSurvivors:
    """A ``gc.callbacks`` hook: after a full collection, freeze what survived it.

    The feature state grows with every card seen; without this each full (gen-2) collection
    walks all of it, and the pause grows with the state (40-55 ms measured within a minute
    of load; 5-30 ms with this hook). Frozen survivors are left out of later collections,
    so a full collection walks only what was created since the last one (the service also
    makes full collections follow every middle-generation collection, so each walks less:
    docs/benchmarks.md, Session 8). A frozen object is still freed when its last reference
    goes, but a reference cycle among frozen objects that becomes garbage (a closed
    connection's protocol objects, say, frozen while the connection was open) would never
    be reclaimed. So every ``thaw_every``-th full collection thaws everything instead: the
    next full collection walks the whole heap once (one long pause), frees such cycles and
    freezes the survivors again. Leaked memory is thereby bounded by what ``thaw_every``
    collections can strand (160: about as often as every 16th at CPython's default pace).

    That walk of the whole heap leaves CPython counting it as long-lived, and its rule of
    waiting until a quarter as many objects are promoted would hold the next full
    collection back until it had a quarter of the heap to walk (a second long pause). So
    after freezing the survivors of that walk the hook calls ``settle`` (when set): the
    service schedules one more ``gc.collect()`` on its event loop, outside the collector
    (a collection cannot start inside a callback), which finds almost nothing to walk and
    resets that count.
    """

    def __init__(self, thaw_every: int = 160) -> None:
        if thaw_every < 1:
            raise ValueError("thaw_every must be at least 1")
        self.thaw_every = thaw_every
        self.settle: Callable[[], object] | None = None
        self.full_collections = 0
        self._thawed = False

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase != "stop" or info.get("generation") != 2:
            return
        self.full_collections += 1
        if self.full_collections % self.thaw_every == 0:
            gc.unfreeze()
            self._thawed = True
            return
        gc.freeze()
        if self._thawed:
            self._thawed = False
            if self.settle is not None:
                self.settle()


_GC_TUNING: dict[str, Any] = {"users": 0, "saved": None}


def _frequent_full_collections(on: bool) -> None:
    """Make full collections follow every middle-generation one while any service runs.

    CPython starts a full collection when more middle-generation collections than its
    third threshold have run since the last one (and enough objects were promoted); 0 makes
    that every one. The thresholds in force before the first service are restored when the
    last one stops (services can overlap in one process, as in tests).
    """
    if on:
        if _GC_TUNING["users"] == 0:
            _GC_TUNING["saved"] = gc.get_threshold()
            t0, t1, _ = _GC_TUNING["saved"]
            gc.set_threshold(t0, t1, 0)
        _GC_TUNING["users"] += 1
        return
    _GC_TUNING["users"] -= 1
    if _GC_TUNING["users"] == 0 and _GC_TUNING["saved"] is not None:
        gc.set_threshold(*_GC_TUNING["saved"])
        _GC_TUNING["saved"] = None


def _no_native_telemetry() -> dict[str, Any]:
    """Turn off FastAPI's built-in OpenTelemetry hooks, where this FastAPI has them.

    Left on, FastAPI looks up the global tracer, meter and logger providers on every request
    (about 9 µs); the service publishes its own Prometheus metrics and logs errors itself.
    """
    if "telemetry" not in inspect.signature(FastAPI.__init__).parameters:
        return {}  # pragma: no cover - FastAPI before native telemetry
    return {"telemetry": {"tracing": False, "metrics": False, "logs": False}}


def _tailor_openapi(app: FastAPI, cfg: ServiceConfig) -> None:
    """Make the published spec describe this configuration (batch limit, auth on or off)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        spec = build()
        spec.setdefault("components", {}).setdefault("securitySchemes", {})["ApiKey"] = (
            SECURITY_SCHEME
        )
        batch = spec.get("components", {}).get("schemas", {}).get("BatchRequest")
        if batch is not None:
            batch["properties"]["transactions"]["maxItems"] = cfg.max_batch
        if not cfg.auth:
            spec.get("components", {}).pop("securitySchemes", None)
            for ops in spec.get("paths", {}).values():
                for op in ops.values():
                    op.pop("security", None)
                    for code in ("401", "403"):
                        op.get("responses", {}).pop(code, None)
        app.openapi_schema = spec
        return spec

    app.openapi = openapi  # type: ignore[method-assign]


def config_from_env(environ: dict[str, str] | None = None) -> ServiceConfig:
    """Read the :class:`ServiceConfig` JSON from ``FRAUDWATCH_SERVICE_CONFIG``.

    Without the variable, the settings (``fraudwatch.toml``, ``FRAUDWATCH_*``) are used.

    Raises
    ------
    ConfigError
        The variable is not a JSON object or holds invalid values.
    """
    env = os.environ if environ is None else environ
    raw = env.get(CONFIG_ENV)
    if not raw:
        from fraudwatch.config import load_settings

        return ServiceConfig.from_settings(load_settings())
    try:
        values = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{CONFIG_ENV} is not valid JSON ({exc}); set it to an object") from None
    if not isinstance(values, dict):
        raise ConfigError(f"{CONFIG_ENV} must be a JSON object of service settings")
    return ServiceConfig.build(**values)


def app_from_env(**overrides: Any) -> FastAPI:
    """Factory for ``uvicorn --factory`` and Lambda: config from the environment.

    ``overrides`` replace config fields (Lambda turns the event-loop monitor off: its loop
    runs only during invocations, so the time between them would read as lag).
    """
    from fraudwatch.config import load_settings
    from fraudwatch.logs import configure_logging

    try:
        settings = load_settings()
        configure_logging(settings.log_level, settings.log_format)
    except ConfigError as exc:  # logging stays default; the config error below says more
        log.warning("settings ignored: %s", exc)
    config = config_from_env()
    if overrides:
        config = config.model_copy(update=overrides)
    return create_app(config)
