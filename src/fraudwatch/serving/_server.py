"""Run the service under uvicorn (one process, or several workers sharing Redis state)."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile

from fraudwatch.serving._app import CONFIG_ENV, create_app, default_scorer_factory
from fraudwatch.serving._config import ServiceConfig

__all__ = ["run_server", "uvicorn_options"]

log = logging.getLogger("fraudwatch.serving")


def uvicorn_options(config: ServiceConfig, *, log_level: str = "INFO") -> dict[str, object]:
    """The uvicorn settings the service runs with (fast loop and parser, no access log)."""
    opts: dict[str, object] = {
        "host": config.host,
        "port": config.port,
        "log_config": None,
        "log_level": log_level.lower(),
        "access_log": False,
        "server_header": False,
        "lifespan": "on",
        "timeout_graceful_shutdown": 10,
        "backlog": 4096,
    }
    try:  # uvloop and httptools come with uvicorn[standard]
        import httptools  # noqa: F401
        import uvloop  # noqa: F401

        opts["loop"] = "uvloop"
        opts["http"] = "httptools"
    except ImportError:  # pragma: no cover - optional speed-ups
        pass
    return opts


def _load_snapshot_once(cfg: ServiceConfig) -> None:
    """Load the warm-start snapshot into the shared Redis state, checked against the model.

    It goes through :meth:`fraudwatch.scoring.Scorer.load_snapshot`, which refuses a snapshot
    built for another feature set than the bundle's.
    """
    from fraudwatch.features import StateSnapshot
    from fraudwatch.scoring import Scorer, open_state_store, resolve_bundle

    assert cfg.snapshot_path is not None
    snapshot = StateSnapshot.load(cfg.snapshot_path)
    state = open_state_store(cfg.state, prefix=cfg.state_prefix)
    try:
        Scorer(resolve_bundle(cfg.model, cfg.registry), state).load_snapshot(snapshot)
    finally:
        state.close()
    log.info("feature state loaded from snapshot %s", cfg.snapshot_path)


def run_server(config: ServiceConfig, *, log_level: str = "INFO") -> None:
    """Migrate the database, load the model, and serve until interrupted.

    With one worker the model and database are opened here, so a bad model reference or
    database URL fails with a clear message before the port is bound. With several workers
    the parent checks the model reference and the database, then uvicorn starts the workers,
    each building the app from ``FRAUDWATCH_SERVICE_CONFIG``.

    Raises
    ------
    ConfigError, BundleError
        Invalid settings, an unreachable database, or a model that cannot be loaded.
    """
    import uvicorn

    from fraudwatch.store import open_store

    store = open_store(config.database_url, upgrade=config.migrate)
    cfg = config.model_copy(update={"migrate": False})
    opts = uvicorn_options(cfg, log_level=log_level)
    if cfg.workers == 1:
        try:
            factory = default_scorer_factory(cfg)
            scorer = factory(None)
            app = create_app(cfg, scorer=scorer, store=store, scorer_factory=factory)
            log.info("serving model %s on http://%s:%d", scorer.model_version, cfg.host, cfg.port)
            uvicorn.run(app, **opts)  # type: ignore[arg-type]
        finally:
            store.close()
        return
    store.close()
    from fraudwatch.registry import Registry

    version = Registry(cfg.registry).resolve(cfg.model)
    if cfg.snapshot_path is not None:
        # Load the warm-start snapshot into the shared state once, here: a worker loading it
        # at its own start (uvicorn restarts crashed workers) would wipe live state.
        _load_snapshot_once(cfg)
        cfg = cfg.model_copy(update={"snapshot_path": None})
    log.info(
        "serving model %s on http://%s:%d with %d workers",
        version,
        cfg.host,
        cfg.port,
        cfg.workers,
    )
    metrics_dir = tempfile.mkdtemp(prefix="fraudwatch-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    os.environ[CONFIG_ENV] = cfg.model_dump_json()
    try:
        uvicorn.run(
            "fraudwatch.serving._app:app_from_env",
            factory=True,
            workers=cfg.workers,
            **opts,  # type: ignore[arg-type]
        )
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)
