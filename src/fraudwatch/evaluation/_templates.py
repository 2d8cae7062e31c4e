"""The Jinja2 template of the HTML evaluation report (kept in code: no package data files)."""

from __future__ import annotations

__all__ = ["PAGE_TEMPLATE"]

PAGE_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title>
<script type="text/javascript">{{ plotlyjs }}</script>
<style>
  :root { --fg: #1f2933; --muted: #6b7785; --line: #e3e8ee; --bg: #f7f9fb;
          --review: #f2a541; --decline: #b22222; --good: #2f855a; }
  * { box-sizing: border-box; }
  body { margin: 0; font-family: system-ui, -apple-system, "Segoe UI", sans-serif;
         color: var(--fg); background: var(--bg); }
  header { background: #102a43; color: white; padding: 20px 32px; }
  header h1 { margin: 0 0 6px 0; font-size: 22px; }
  header .meta { color: #bcccdc; font-size: 13px; }
  header .meta span { margin-right: 18px; }
  main { padding: 20px 32px 40px; max-width: 1400px; margin: 0 auto; }
  .tiles { display: grid; grid-template-columns: repeat(auto-fit, minmax(180px, 1fr));
           gap: 12px; margin-bottom: 18px; }
  .tile { background: white; border: 1px solid var(--line); border-radius: 8px;
          padding: 14px 16px; }
  .tile .label { color: var(--muted); font-size: 12px; text-transform: uppercase;
                 letter-spacing: .04em; }
  .tile .value { font-size: 26px; font-weight: 600; margin-top: 4px; }
  .tile .value.na { color: var(--muted); }
  .tile .help { color: var(--muted); font-size: 11px; margin-top: 4px; }
  .panel { background: white; border: 1px solid var(--line); border-radius: 8px;
           padding: 14px 18px; margin-bottom: 18px; }
  .panel h2 { font-size: 16px; margin: 0 0 10px 0; }
  .grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(520px, 1fr));
          gap: 14px; margin-bottom: 18px; }
  .grid .panel { margin: 0; padding: 6px; min-width: 0; overflow: hidden; }
  .plot { width: 100%; height: 380px; }
  table { border-collapse: collapse; width: 100%; font-size: 13px; }
  th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line); }
  th { color: var(--muted); font-weight: 600; }
  td.num { text-align: right; font-variant-numeric: tabular-nums; }
  td.na { color: var(--muted); font-style: italic; }
  .pill { display: inline-block; padding: 2px 8px; border-radius: 10px; color: white;
          font-size: 12px; }
  .pill.review { background: var(--review); } .pill.decline { background: var(--decline); }
  .bar { height: 8px; background: var(--line); border-radius: 4px; overflow: hidden;
         min-width: 80px; }
  .bar > div { height: 100%; background: var(--good); }
  details summary { cursor: pointer; color: var(--muted); }
  .note { color: var(--muted); font-size: 12px; }
</style>
</head>
<body>
<header>
  <h1>{{ title }}</h1>
  <div class="meta">
    {% for key, value in meta.items() %}<span><b>{{ key }}</b> {{ value }}</span>{% endfor %}
    <span><b>data</b> {{ data.start }} &rarr; {{ data.end }}</span>
    <span><b>{{ "{:,}".format(data.n_transactions) }}</b> transactions</span>
    <span><b>{{ "{:,}".format(data.n_fraud) }}</b> frauds
      ({{ "%.3f" % (100 * data.fraud_rate) }}%)</span>
    <span><b>{{ data.n_days }}</b> days</span>
    {% if data.n_cards is not none %}<span><b>{{ "{:,}".format(data.n_cards) }}</b> cards</span>
    {% endif %}
  </div>
</header>
<main>
  <section class="tiles">
    {% for m in headline %}
    <div class="tile" title="{{ m.help }}">
      <div class="label">{{ m.label }}{% if m.name.endswith("_at_k") %} (k={{ params.k }})
        {% endif %}</div>
      <div class="value{% if m.undefined %} na{% endif %}">{{ m.value }}</div>
      <div class="help">{{ m.help }}</div>
    </div>
    {% endfor %}
  </section>

  <section class="panel">
    <h2>Decision thresholds
      <span class="note">({{ "from the model" if report.thresholds_source == "given"
        else "default rule applied to these scores" }}; objective:
        {{ thresholds.objective }})</span></h2>
    <table>
      <tr><th>decision</th><th>rule</th><th class="num">transactions per day</th>
          <th class="num">precision</th><th class="num">share of frauds</th></tr>
      <tr><td><span class="pill decline">decline</span></td>
          <td>score &ge; {{ "%.6g" % thresholds.decline }}</td>
          <td class="num">{{ fmt("declines_per_day", at.declines_per_day) }}</td>
          <td class="num">{{ fmt("precision_at_k", at.decline_precision) }}</td>
          <td class="num">{{ fmt("recall_at_fpr", at.decline_recall) }}</td></tr>
      <tr><td><span class="pill review">review</span></td>
          <td>{{ "%.6g" % thresholds.review }} &le; score &lt; {{ "%.6g" % thresholds.decline }}
          </td>
          <td class="num">{{ fmt("reviews_per_day", at.reviews_per_day) }}</td>
          <td class="num">{{ fmt("precision_at_k", at.review_precision) }}</td>
          <td class="num">{{ fmt("recall_at_fpr", at.recall - at.decline_recall
              if at.recall is not none and at.decline_recall is not none else none) }}</td></tr>
    </table>
    <p class="note">Expected cost at these thresholds: <b>{{ fmt("expected_cost", at.cost) }}</b>
      (missed fraud {{ fmt("expected_cost", at.missed_fraud_amount) }}; review cost
      {{ params.review_cost }} per review; decline friction {{ params.decline_friction }} per
      declined legitimate transaction).</p>
  </section>

  <section class="grid">
    <div class="panel">{{ plots["pr"] }}</div>
    <div class="panel">{{ plots["roc"] }}</div>
    <div class="panel">{{ plots["scores"] }}</div>
    <div class="panel">{{ plots["cost"] }}</div>
    <div class="panel">{{ plots["per-day"] }}</div>
    <div class="panel">{{ plots["calibration"] }}</div>
  </section>

  <section class="panel">
    <h2>Metrics</h2>
    <table>
      <tr><th>metric</th><th class="num">value</th><th>meaning</th></tr>
      {% for m in metric_rows %}
      <tr><td>{{ m.label }}</td>
          <td class="num{% if m.undefined %} na{% endif %}">{{ m.value }}</td>
          <td class="{% if m.undefined %}na{% else %}note{% endif %}">{{ m.help }}</td></tr>
      {% endfor %}
    </table>
    <p class="note">k = {{ params.k }}; label delay {{ params.delay_days }} days;
      recall at FPR uses FPR &le; {{ "%g" % (100 * params.max_fpr) }}%.</p>
  </section>

  <section class="panel">
    <h2>Recall per fraud scenario</h2>
    {% if scenarios %}
    <table>
      <tr><th>scenario</th><th class="num">frauds</th><th class="num">caught
        (review or decline)</th><th></th><th class="num">declined</th>
        <th class="num">amount caught</th></tr>
      {% for s in scenarios %}
      <tr><td>{{ s.scenario }}</td><td class="num">{{ "{:,}".format(s.n_fraud) }}</td>
        <td class="num">{{ fmt("recall_at_fpr", s.recall) }}</td>
        <td><div class="bar"><div style="width: {{ "%.1f" % (100 * s.recall) }}%"></div>
        </div></td>
        <td class="num">{{ fmt("recall_at_fpr", s.decline_recall) }}</td>
        <td class="num">{{ fmt("recall_at_fpr", s.amount_caught_share) }}</td></tr>
      {% endfor %}
    </table>
    {% else %}
    <p class="note">No fraud scenarios in the data{% if report.notes.per_scenario %}
      ({{ report.notes.per_scenario }}){% endif %}.</p>
    {% endif %}
  </section>

  <section class="panel">
    <details>
      <summary>Per-day table ({{ per_day|length }} days)</summary>
      <table>
        <tr><th>day</th><th class="num">transactions</th><th class="num">frauds</th>
          <th class="num">precision@{{ params.k }}</th>
          <th class="num">card precision@{{ params.k }}</th>
          <th class="num">known cards removed</th></tr>
        {% for d in per_day %}
        <tr><td>{{ d.day }}</td><td class="num">{{ "{:,}".format(d.n_transactions) }}</td>
          <td class="num">{{ d.n_fraud }}</td>
          <td class="num">{{ fmt("precision_at_k", d.precision_at_k) }}</td>
          <td class="num">{{ fmt("card_precision_at_k", d.card_precision_at_k) }}</td>
          <td class="num">{{ d.n_known_removed if d.n_known_removed is not none else "" }}</td>
        </tr>
        {% endfor %}
      </table>
    </details>
  </section>
</main>
<script type="text/javascript">
document.addEventListener("DOMContentLoaded", function () {
{{ plot_scripts }}
});
</script>
</body>
</html>
"""
