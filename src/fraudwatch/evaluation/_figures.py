"""The report's plots as plotly figure specifications (plain JSON, drawn by plotly.js).

Building plain dictionaries instead of plotly's Python objects keeps rendering fast; the page
calls ``Plotly.newPlot`` once it is laid out.
"""

from __future__ import annotations

import itertools
import json
import math
from typing import Any

from fraudwatch.evaluation._format import format_metric
from fraudwatch.evaluation._report import EvaluationReport, _jsonable

__all__ = ["FIGURES", "Figure", "figure_script"]

_COLORS = {"legit": "#4c78a8", "fraud": "#e45756", "review": "#f2a541", "decline": "#b22222"}


Figure = dict[str, Any]


def _axis(title: str, **extra: Any) -> dict[str, Any]:
    return {
        "title": {"text": title},
        "gridcolor": "#eef1f4",
        "zerolinecolor": "#d9dee4",
        "automargin": True,
        **extra,
    }


def _figure(title: str, data: list[dict[str, Any]], **layout: Any) -> Figure:
    base: dict[str, Any] = {
        "title": {"text": title, "font": {"size": 15}, "x": 0.02, "y": 0.97},
        "height": 380,
        "autosize": True,
        "margin": {"l": 60, "r": 20, "t": 60, "b": 50},
        "legend": {"orientation": "h", "y": -0.22},
        "paper_bgcolor": "white",
        "plot_bgcolor": "white",
        "font": {"family": "system-ui, -apple-system, Segoe UI, sans-serif", "size": 12},
        "shapes": [],
        "annotations": [],
    }
    base.update(layout)
    return {"data": data, "layout": base}


def _vline(
    fig: Figure, x: float, color: str, text: str, dash: str = "dash", *, log_x: bool = False
) -> None:
    # plotly places annotations on a log axis in log10 units (shapes in data units)
    at = math.log10(x) if log_x and x > 0 else x
    fig["layout"]["shapes"].append(
        {
            "type": "line",
            "xref": "x",
            "yref": "paper",
            "x0": x,
            "x1": x,
            "y0": 0,
            "y1": 1,
            "line": {"color": color, "dash": dash, "width": 1.5},
        }
    )
    fig["layout"]["annotations"].append(
        {
            "x": at,
            "xref": "x",
            "y": 1.0,
            "yref": "paper",
            "text": text,
            "showarrow": False,
            "xanchor": "left",
            "yanchor": "bottom",
            "font": {"color": color, "size": 11},
        }
    )


def _hline(fig: Figure, y: float, color: str, text: str) -> None:
    fig["layout"]["shapes"].append(
        {
            "type": "line",
            "xref": "paper",
            "yref": "y",
            "x0": 0,
            "x1": 1,
            "y0": y,
            "y1": y,
            "line": {"color": color, "dash": "dot", "width": 1.5},
        }
    )
    fig["layout"]["annotations"].append(
        {
            "x": 1,
            "xref": "paper",
            "y": y,
            "yref": "y",
            "text": text,
            "showarrow": False,
            "xanchor": "right",
            "yanchor": "bottom",
            "font": {"color": color, "size": 11},
        }
    )


def _marker(x: float, y: float, name: str, color: str, symbol: str = "diamond") -> dict[str, Any]:
    return {
        "type": "scatter",
        "x": [x],
        "y": [y],
        "mode": "markers",
        "name": name,
        "marker": {"size": 12, "color": color, "symbol": symbol},
    }


def _pr_figure(report: EvaluationReport) -> Figure:
    data: list[dict[str, Any]] = []
    pr = report.curves.get("pr")
    if pr:
        data.append(
            {
                "type": "scatter",
                "x": pr["x"],
                "y": pr["y"],
                "mode": "lines",
                "name": "model",
                "line": {"shape": "hv", "color": _COLORS["legit"]},
            }
        )
    at = report.at_thresholds
    for kind, rec, prec in (
        ("review", at.get("recall"), at.get("precision")),
        ("decline", at.get("decline_recall"), at.get("decline_precision")),
    ):
        if rec is not None and prec is not None:
            data.append(_marker(rec, prec, f"{kind} threshold", _COLORS[kind]))
    fig = _figure(
        "Precision-recall curve",
        data,
        xaxis=_axis("recall (share of frauds found)", range=[0, 1.0]),
        yaxis=_axis("precision (share of alerts that are fraud)", range=[0, 1.02]),
    )
    _hline(fig, report.data["fraud_rate"], "grey", "random")
    return fig


def _roc_figure(report: EvaluationReport) -> Figure:
    data: list[dict[str, Any]] = []
    roc = report.curves.get("roc")
    if roc:
        # the log axis cannot show FPR = 0: start at the first positive FPR
        xs, ys = zip(
            *[(x, y) for x, y in zip(roc["x"], roc["y"], strict=True) if x > 0], strict=True
        )
        data.append(
            {
                "type": "scatter",
                "x": list(xs),
                "y": list(ys),
                "mode": "lines",
                "name": "model",
                "line": {"color": _COLORS["legit"]},
            }
        )
    grid = [10 ** (e / 10) for e in range(-40, 1)]
    data.append(
        {
            "type": "scatter",
            "x": grid,
            "y": grid,
            "mode": "lines",
            "name": "random",
            "line": {"dash": "dot", "color": "grey"},
        }
    )
    fpr, tpr = report.at_thresholds.get("false_positive_rate"), report.at_thresholds.get("recall")
    if fpr and tpr is not None:
        data.append(_marker(fpr, tpr, "review threshold", _COLORS["review"]))
    fig = _figure(
        "ROC curve (log false-positive rate)",
        data,
        xaxis=_axis("false-positive rate", type="log", range=[-4, 0]),
        yaxis=_axis("true-positive rate (recall)", range=[0, 1.02]),
    )
    max_fpr = report.params["max_fpr"]
    _vline(fig, max_fpr, "grey", f"FPR {100 * max_fpr:g}%", log_x=True)
    return fig


def _distribution_figure(report: EvaluationReport) -> Figure:
    hist = report.curves["score_histogram"]
    edges = hist["edges"]
    mids = [(a + b) / 2 for a, b in itertools.pairwise(edges)]
    width = edges[1] - edges[0]
    data = []
    for cls in ("legit", "fraud"):
        counts = hist[cls]
        total = sum(counts) or 1
        data.append(
            {
                "type": "bar",
                "x": mids,
                "y": [c / total for c in counts],
                "width": width,
                "name": f"{cls} ({sum(counts):,})",
                "marker": {"color": _COLORS[cls]},
                "opacity": 0.6,
            }
        )
    fig = _figure(
        "Score distribution by class",
        data,
        barmode="overlay",
        xaxis=_axis("score (higher = more suspicious)"),
        yaxis=_axis("share of the class (log)", type="log"),
    )
    for kind in ("review", "decline"):
        _vline(fig, getattr(report.thresholds, kind), _COLORS[kind], kind)
    return fig


def _cost_figure(report: EvaluationReport) -> Figure:
    cc = report.cost_curve
    x = cc["threshold"].to_list()
    data: list[dict[str, Any]] = [
        {
            "type": "scatter",
            "x": x,
            "y": cc["cost_moving_review"].to_list(),
            "mode": "lines",
            "name": "moving review (decline fixed)",
            "line": {"color": _COLORS["review"]},
        },
        {
            "type": "scatter",
            "x": x,
            "y": cc["cost_moving_decline"].to_list(),
            "mode": "lines",
            "name": "moving decline (review fixed)",
            "line": {"color": _COLORS["decline"]},
        },
    ]
    cost = report.at_thresholds.get("cost")
    if cost is not None:
        data.append(
            {
                "type": "scatter",
                "x": [report.thresholds.review, report.thresholds.decline],
                "y": [cost, cost],
                "mode": "markers",
                "name": f"chosen: {cost:,.0f}",
                "marker": {"size": 11, "color": "black", "symbol": "x"},
            }
        )
    scores = cc["threshold"].to_numpy()
    log_x = bool(scores.size and scores.min() > 0 and scores.max() / scores.min() > 100)
    fig = _figure(
        f"Cost vs threshold (review {report.params['review_cost']:g}, "
        f"decline friction {report.params['decline_friction']:g})",
        data,
        xaxis=_axis("threshold", type="log" if log_x else "linear"),
        yaxis=_axis("total cost"),
    )
    for kind in ("review", "decline"):
        _vline(fig, getattr(report.thresholds, kind), _COLORS[kind], kind, log_x=log_x)
    return fig


def _per_day_figure(report: EvaluationReport) -> Figure:
    table = report.per_day
    days = [d.isoformat() for d in table["day"].to_list()]
    k = report.params["k"]
    data = [
        {
            "type": "bar",
            "x": days,
            "y": table["n_fraud"].to_list(),
            "name": "frauds",
            "marker": {"color": "#e3e8ee"},
            "yaxis": "y2",
        },
        {
            "type": "scatter",
            "x": days,
            "y": table["precision_at_k"].to_list(),
            "mode": "lines+markers",
            "name": f"precision@{k}",
            "line": {"color": _COLORS["legit"]},
        },
        {
            "type": "scatter",
            "x": days,
            "y": table["card_precision_at_k"].to_list(),
            "mode": "lines+markers",
            "name": f"card precision@{k}",
            "line": {"color": _COLORS["fraud"]},
        },
    ]
    return _figure(
        f"Precision@{k} and card precision@{k} per day",
        data,
        xaxis=_axis("day"),
        yaxis=_axis("precision", range=[0, 1.02]),
        yaxis2=_axis("frauds that day", overlaying="y", side="right", showgrid=False),
    )


def _calibration_figure(report: EvaluationReport) -> Figure:
    cal = report.calibration
    top = max([*cal["mean_score"].to_list(), *cal["fraud_rate"].to_list(), 1e-3])
    brier = format_metric("brier_score", report.metrics.get("brier_score"))
    data = [
        {
            "type": "scatter",
            "x": [0, top],
            "y": [0, top],
            "mode": "lines",
            "name": "perfect",
            "line": {"dash": "dot", "color": "grey"},
        },
        {
            "type": "scatter",
            "x": cal["mean_score"].to_list(),
            "y": cal["fraud_rate"].to_list(),
            "mode": "lines+markers",
            "name": "model",
            "line": {"color": _COLORS["fraud"]},
            "text": [f"{n:,} transactions" for n in cal["n"].to_list()],
        },
    ]
    return _figure(
        f"Calibration (Brier {brier})",
        data,
        xaxis=_axis("mean score in bin"),
        yaxis=_axis("observed fraud rate"),
    )


def figure_script(name: str, fig: Figure) -> str:
    """A ``Plotly.newPlot`` call; ``</`` is escaped so data cannot close the script."""
    payload = json.dumps(_jsonable(fig), allow_nan=False).replace("</", "<\\/")
    config = json.dumps({"displaylogo": False, "responsive": True})
    return f'{{ const f = {payload}; Plotly.newPlot("plot-{name}", f.data, f.layout, {config}); }}'


FIGURES = {
    "pr": _pr_figure,
    "roc": _roc_figure,
    "scores": _distribution_figure,
    "cost": _cost_figure,
    "per-day": _per_day_figure,
    "calibration": _calibration_figure,
}
