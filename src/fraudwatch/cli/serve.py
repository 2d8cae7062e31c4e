"""``fraudwatch serve``: start the real-time decision service."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fraudwatch.cli._common import command_errors, settings_from

__all__ = ["serve"]


@command_errors
def serve(
    ctx: typer.Context,
    model: Annotated[
        str, typer.Option("--model", help="Model to serve: an alias (champion) or a version.")
    ] = "champion",
    host: Annotated[str | None, typer.Option("--host", help="Interface to bind.")] = None,
    port: Annotated[int | None, typer.Option("--port", help="TCP port.")] = None,
    state: Annotated[
        str | None,
        typer.Option("--state", help="Online feature state: memory or redis://host:port/db."),
    ] = None,
    state_prefix: Annotated[
        str | None,
        typer.Option("--state-prefix", help="Prefix of the Redis keys (default fw:)."),
    ] = None,
    db: Annotated[
        str | None,
        typer.Option("--db", help="Database URL: sqlite:///fraudwatch.db or postgresql://..."),
    ] = None,
    workers: Annotated[
        int | None, typer.Option("--workers", min=1, help="Worker processes (needs Redis state).")
    ] = None,
    registry: Annotated[
        str | None, typer.Option("--registry", help="Model registry folder or s3:// URL.")
    ] = None,
    rules: Annotated[
        Path | None, typer.Option("--rules", help="Rule file applied after the model.")
    ] = None,
    snapshot: Annotated[
        Path | None,
        typer.Option("--snapshot", help="Feature-state snapshot built from history (warm start)."),
    ] = None,
    explain: Annotated[
        str | None,
        typer.Option("--explain", help="Reasons for: flagged (default), all or none."),
    ] = None,
    explainer: Annotated[
        str | None,
        typer.Option(
            "--explainer",
            help="How reasons are computed: path (default, about a prediction's cost) or shap.",
        ),
    ] = None,
    max_batch: Annotated[
        int | None, typer.Option("--max-batch", min=1, help="Most transactions per batch call.")
    ] = None,
    micro_batch: Annotated[
        int | None,
        typer.Option(
            "--micro-batch",
            min=1,
            max=1024,
            help="Most /v1/score requests received together that are decided as one group "
            "(1: each alone; default 16).",
        ),
    ] = None,
    no_auth: Annotated[
        bool,
        typer.Option("--no-auth", help="Disable API keys (local development only)."),
    ] = False,
    sagemaker: Annotated[
        bool,
        typer.Option(
            "--sagemaker",
            envvar="FRAUDWATCH_SAGEMAKER",
            help="Also serve GET /ping and POST /invocations (SageMaker container).",
        ),
    ] = False,
) -> None:
    """Start the real-time decision service (FastAPI + uvicorn).

    Example: fraudwatch serve --model champion --port 8000 --db sqlite:///fraudwatch.db

    Clients authenticate with keys from `fraudwatch apikey create --scope score`. The API is
    documented at http://HOST:PORT/docs and in docs/api.md.
    """
    from fraudwatch.serving import ServiceConfig
    from fraudwatch.serving._server import run_server

    settings = settings_from(ctx)
    config = ServiceConfig.from_settings(
        settings,
        model=model,
        host=host,
        port=port,
        state=state,
        state_prefix=state_prefix,
        database_url=db,
        workers=workers,
        registry=registry,
        rules_path=str(rules) if rules is not None else None,
        snapshot_path=str(snapshot) if snapshot is not None else None,
        explain=explain,
        explainer=explainer,
        max_batch=max_batch,
        micro_batch=micro_batch,
        auth=False if no_auth else None,
        sagemaker=True if sagemaker else None,
    )
    run_server(config, log_level=settings.log_level)
