"""A self-contained HTML report of an :class:`EvaluationReport` (plotly, inlined, offline).

The page holds its own copy of plotly.js, so it opens without a network. Plots: precision-
recall and ROC curves with the operating points, score distributions by class with the
thresholds, cost against threshold with the chosen thresholds, precision@k and card
precision@k per day, and calibration; then the metric, threshold and per-scenario tables.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from fraudwatch.evaluation._figures import FIGURES, figure_script
from fraudwatch.evaluation._format import METRIC_LABELS, format_metric
from fraudwatch.evaluation._report import METRIC_NAMES, EvaluationReport
from fraudwatch.evaluation._templates import PAGE_TEMPLATE

__all__ = ["render_html", "write_report"]


def render_html(
    report: EvaluationReport,
    *,
    title: str = "fraudwatch evaluation",
    meta: Mapping[str, str] | None = None,
) -> str:
    """Render the report as one self-contained HTML page (plotly.js inlined).

    Parameters
    ----------
    report:
        The evaluation to show.
    title:
        Page title.
    meta:
        Extra facts shown in the header (model version, data path, generated at...).
    """
    from jinja2 import Environment, select_autoescape
    from markupsafe import Markup
    from plotly.offline import get_plotlyjs

    figures = {name: make(report) for name, make in FIGURES.items()}
    plots = {name: Markup(f'<div id="plot-{name}" class="plot"></div>') for name in figures}
    scripts = Markup("\n".join(figure_script(name, fig) for name, fig in figures.items()))
    metric_rows = [
        {
            "label": METRIC_LABELS[name][0],
            "name": name,
            "value": format_metric(name, report.metrics.get(name)),
            "help": report.notes.get(name) or METRIC_LABELS[name][1],
            "undefined": report.metrics.get(name) is None,
        }
        for name in METRIC_NAMES
    ]
    headline = [
        r
        for r in metric_rows
        if r["name"]
        in (
            "roc_auc",
            "average_precision",
            "card_precision_at_k",
            "fraud_amount_caught_share",
            "expected_cost",
            "reviews_per_day",
        )
    ]
    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
    template = env.from_string(PAGE_TEMPLATE)
    return template.render(
        title=title,
        meta=dict(meta or {}),
        report=report,
        data=report.data,
        params=report.params,
        headline=headline,
        metric_rows=metric_rows,
        thresholds=report.thresholds,
        at=report.at_thresholds,
        fmt=format_metric,
        scenarios=report.per_scenario.to_dicts(),
        per_day=report.per_day.to_dicts(),
        plots=plots,
        plot_scripts=scripts,
        plotlyjs=Markup(get_plotlyjs()),
    )


def write_report(
    report: EvaluationReport,
    out_dir: str | Path,
    *,
    title: str = "fraudwatch evaluation",
    meta: Mapping[str, str] | None = None,
    html: bool = True,
) -> dict[str, Path]:
    """Write ``evaluation.json`` (and ``report.html``) into ``out_dir``; returns the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    payload = report.to_dict()
    if meta:
        payload["meta"] = dict(meta)
    json_path = out / "evaluation.json"
    json_path.write_text(json.dumps(payload, indent=2, allow_nan=False), encoding="utf-8")
    paths = {"json": json_path}
    if html:
        html_path = out / "report.html"
        html_path.write_text(render_html(report, title=title, meta=meta), encoding="utf-8")
        paths["html"] = html_path
    return paths
