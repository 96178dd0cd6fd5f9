"""bench/REPORT.md and its PNG plots from the collected results (bench/run.py writes the results).

`write_report(doc, md_path, fig_dir)` takes the document of bench/results/latest.json: {"date", "quick",
"machine": {…}, "load_average_start", "load_average_end", "wall_s", "benches": {name: {"status", "seconds",
"cpu_s", "load_before", "load_after", "argv", "result": RESULT figures or None, "stderr_tail"}}}. Each goal is
a row: what was measured, the figure, the goal, met / not met, and the naive baseline measured in the same run
where the benchmark has one. The goals come from the issues (15, 18, 19, 20) and the docs that closed them.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

GOAL_IMPORT_RATE = 10_000  # rows/s end to end, classification and routing on (issue 20)
GOAL_SPEEDUP = 1.8  # --workers 2 against --workers 1 (issue 20)
GOAL_RSS_MB = 400  # per process (issues 19, 20)
GOAL_FLOOR_US = 100  # µs a row: what 10,000 rows/s allows one core
GOAL_STORE_GROWTH_MB = 5  # "at most a few MB" a bomb (issue 19)
GOAL_CLASSIFY = 20_000  # msg/s classification after tokenizing (docs/understanding.md)
GOAL_MACRO_F1 = 0.94  # domain classifier (docs/understanding.md)
GOAL_FIRED_P99_S = 2.0  # escalation step written to the outbox (README, escalation)
GOAL_CATCHUP_S = 5.0  # restart after kill -9 → every overdue step delivered (README)
GOAL_CHAT_P99_S = 1.0  # step due → chat API call (docs/chat-delivery.md)
GOAL_PAGE_P99_MS = 100  # now page and API list, server time (issue 18)
GOAL_INCIDENT_MS = 150  # incident page (issue 18)
GOAL_LIVE_S = 1.0  # first live update (issue 18)


@dataclass
class Goal:
    what: str
    figure: str
    goal: str
    met: bool | None  # None: no goal set, the figure is shown for what it is
    baseline: str = ""


def _get(d: Any, *keys, default=None):
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            return default
        d = d[k]
    return d


def _num(x, digits: int = 0) -> str:
    if x is None or (isinstance(x, float) and x != x):
        return "–"
    return f"{x:,.{digits}f}"


def met_text(met: bool | None) -> str:
    return "no goal set" if met is None else ("met" if met else "**not met**")


# ---------------------------------------------------------------------------------------------- goals per bench
def _import_throughput(r: dict) -> list[Goal]:
    base = ""
    if r.get("naive_rows_per_s"):
        base = (f"naive (jieba.lcut + understand + one commit a row, {_num(r.get('naive_rows'))} rows): "
                f"{_num(r['naive_rows_per_s'])} rows/s; this is {r.get('speedup_vs_naive', 0):.1f}× that")
    rows = _num(r.get("rows"))
    return [Goal(f"rows/s end to end, {rows} rows, one process", _num(r.get("rows_per_s")) + " rows/s "
                 f"({_num(r.get('rows_per_cpu_s'))} per CPU s)", f"≥ {GOAL_IMPORT_RATE:,} rows/s (issue 20)",
                 (r.get("rows_per_s") or 0) >= GOAL_IMPORT_RATE, base),
            Goal(f"peak RSS, {rows} rows", _num(r.get("peak_rss_mb")) + " MB", f"≤ {GOAL_RSS_MB} MB (issue 20, at 1M rows)",
                 r.get("peak_rss_mb") is not None and r["peak_rss_mb"] <= GOAL_RSS_MB)]


def _best_runs(r: dict) -> dict[tuple[int, int], dict]:
    """The fastest run of each (rows, workers)."""
    best: dict[tuple[int, int], dict] = {}
    for run in r.get("runs") or []:
        key = (run["rows"], run["workers"])
        if key not in best or run["rows_per_s"] > best[key]["rows_per_s"]:
            best[key] = run
    return best


def _import_parallel(r: dict) -> list[Goal]:
    best = _best_runs(r)
    if not best:
        return []
    top = max(n for n, _ in best)
    most = max(w for n, w in best if n == top)
    fast, one = best[(top, most)], best.get((top, 1))
    base = f"--workers 1: {_num(one['rows_per_s'])} rows/s" if one else ""
    out = [Goal(f"rows/s end to end, {top:,} rows, --workers {most}", _num(fast["rows_per_s"]) + " rows/s "
                f"(2-core cap from CPU µs: {_num(fast.get('two_core_cap_rows_per_s'))})",
                f"≥ {GOAL_IMPORT_RATE:,} rows/s (issue 20)", fast["rows_per_s"] >= GOAL_IMPORT_RATE, base)]
    if one and most > 1:
        speedup = fast["rows_per_s"] / one["rows_per_s"]
        out.append(Goal(f"--workers {most} against --workers 1, {top:,} rows", f"{speedup:.2f}×",
                        f"≥ {GOAL_SPEEDUP}× (issue 20)", speedup >= GOAL_SPEEDUP, base))
    rss = max(max(run.get("writer_rss_mb") or 0, run.get("worker_rss_mb") or 0) for run in r["runs"])
    out.append(Goal(f"peak RSS of any process, up to {top:,} rows", f"{rss:,.0f} MB",
                    f"≤ {GOAL_RSS_MB} MB per process (issue 20, at 1M rows)", rss <= GOAL_RSS_MB))
    return out


def _import_floor(r: dict) -> list[Goal]:
    total = r.get("sum_cpu_us_per_row")
    return [Goal(f"unskippable parts, CPU µs a row on one core ({_num(r.get('rows'))} rows)",
                 f"{_num(total, 1)} µs = at most {_num(r.get('max_rows_per_s_one_core'))} rows/s",
                 f"≤ {GOAL_FLOOR_US} µs (what {GOAL_IMPORT_RATE:,} rows/s allows one core)",
                 total is not None and total <= GOAL_FLOOR_US)]


def _import_bombs(r: dict) -> list[Goal]:
    out = []
    for b in r.get("bombs") or []:
        label = f"{b.get('bomb')} bomb ({b.get('backend')}, {b.get('file_mb')} MB file)"
        if "failed" in b:
            out.append(Goal(label, f"the import process failed (exit {b['failed']})", "an answer", False))
            continue
        outcome = "refused" if "refused" in b else f"{_num(b.get('read'))} rows read"
        out.append(Goal(f"{label}: peak RSS", f"{_num(b.get('peak_rss_mb'))} MB ({outcome})",
                        f"≤ {GOAL_RSS_MB} MB (issue 19)", (b.get("peak_rss_mb") or 1e9) <= GOAL_RSS_MB))
        out.append(Goal(f"{label}: store growth", f"{_num(b.get('store_growth_mb'), 2)} MB",
                        f"≤ {GOAL_STORE_GROWTH_MB} MB, a few MB (issue 19)",
                        (b.get("store_growth_mb") or 0) <= GOAL_STORE_GROWTH_MB))
    h = r.get("healthz_during_folder_import")
    if h:
        out.append(Goal(f"/healthz while the watched folder imports {_num(h.get('rows'))} rows",
                        f"p50 {h.get('p50_ms')} ms, p99 {h.get('p99_ms')} ms, max {h.get('max_ms')} ms", "—", None))
    return out


def _classifier_speed(r: dict) -> list[Goal]:
    c = _get(r, "classify_msg_per_s", "batch 1000") or {}
    ref = r.get("reference_msg_per_s") or {}
    und = r.get("understand_many_msg_per_s") or {}
    base = f"reference scoring: {_num(ref.get('wall'))} msg/s" if ref else ""
    return [Goal("classification after tokenizing, batches of 1,000", f"{_num(c.get('wall'))} msg/s "
                 f"(CPU: {_num(c.get('cpu'))})", f"≥ {GOAL_CLASSIFY:,} msg/s (docs/understanding.md)",
                 (c.get("wall") or 0) >= GOAL_CLASSIFY, base),
            Goal("understand_many end to end (normalise, segment, classify, route, grade)",
                 f"{_num(und.get('wall'))} msg/s (CPU: {_num(und.get('cpu'))})", "—", None)]


def _classifier_cv(r: dict) -> list[Goal]:
    opts = r.get("options") or {}
    base = opts.get("baseline")
    base_text = f"TF-IDF + LinearSVC baseline: {base['macro_f1']:.4f}" if base else ""
    out = []
    for name, o in opts.items():
        if name == "baseline":
            continue
        out.append(Goal(f"macro-F1, {r.get('folds')}-fold {r.get('split')} CV, {name}",
                        f"{o['macro_f1']:.4f} (accuracy {o['accuracy']:.4f})", f"≥ {GOAL_MACRO_F1} (docs/understanding.md)",
                        o["macro_f1"] >= GOAL_MACRO_F1, base_text))
    if not out and base:
        out.append(Goal(f"macro-F1, {r.get('folds')}-fold {r.get('split')} CV, baseline only",
                        f"{base['macro_f1']:.4f}", f"≥ {GOAL_MACRO_F1}", base["macro_f1"] >= GOAL_MACRO_F1))
    return out


def _routing_eval(r: dict) -> list[Goal]:
    return [Goal(f"function of the answering bureau agrees ({_num(r.get('named'))} replies naming one)",
                 f"{r.get('function_agreement', 0):.1%}", "—", None),
            Goal("answering body is the lead or a co-handling office", f"{r.get('lead_or_co_handler', 0):.1%}", "—", None),
            Goal("level agrees (street counted as county)", f"{r.get('level_agreement', 0):.1%}", "—", None)]


def _events_eval(r: dict) -> list[Goal]:
    return [Goal("重大+ reports graded below 重大", f"{r.get('major_under_graded')} of {r.get('major_expected')}",
                 "0 (issue 15)", r.get("major_under_graded") == 0),
            Goal("single reports graded right", f"{r.get('graded_right')}/{r.get('reports')} "
                 f"({r.get('graded_right_share', 0):.1%})", "≥ 95 % (issue 15)", r.get("graded_right_share", 0) >= 0.95),
            Goal("scenarios with one incident per real event", f"{r.get('grouped_right')}/{r.get('scenarios')} "
                 f"({r.get('grouped_right_share', 0):.1%})", "≥ 90 % (issue 15)", r.get("grouped_right_share", 0) >= 0.90),
            Goal("5-hour deadlines missed / doubled", f"{r.get('missed_release')} / {r.get('duplicate_release')}",
                 "0 / 0 (issue 15)", r.get("missed_release") == 0 and r.get("duplicate_release") == 0)]


def _escalation(r: dict) -> list[Goal]:
    p, c = r.get("precision") or {}, r.get("catch_up") or {}
    fired, got = p.get("fired_s") or {}, p.get("delivered_s") or {}
    out = []
    if fired:
        out.append(Goal(f"step fired late, {_num(p.get('deadlines'))} open deadlines ({p.get('store')})",
                        f"p50 {fired.get('p50')} s, p99 {fired.get('p99')} s, max {fired.get('max')} s",
                        f"p99 ≤ {GOAL_FIRED_P99_S:g} s (README)", (fired.get("p99") or 1e9) <= GOAL_FIRED_P99_S))
        out.append(Goal("reminder received by the webhook, after the step's time",
                        f"p50 {got.get('p50')} s, p99 {got.get('p99')} s, max {got.get('max')} s", "—", None))
        out.append(Goal("reminders missing / received twice", f"{p.get('missing')} / {p.get('duplicates')}", "0 / 0",
                        p.get("missing") == 0 and p.get("duplicates") == 0))
    if c:
        out.append(Goal(f"kill -9 with {_num(c.get('deadlines'))} escalating deadlines: restart → every overdue step "
                        "delivered", f"{c.get('all_delivered_s')} s (start-up {c.get('ready_s')} s)"
                        + ("" if c.get("complete") else ", not all arrived"),
                        f"≤ {GOAL_CATCHUP_S:g} s (README)",
                        bool(c.get("complete")) and (c.get("all_delivered_s") or 1e9) <= GOAL_CATCHUP_S))
        out.append(Goal("catch-up duplicates", str(c.get("duplicates")), "0", c.get("duplicates") == 0))
    return out


def _chat_delivery(r: dict) -> list[Goal]:
    out = []
    for row in r.get("latency") or []:
        tg = row["run"].endswith("tg")
        out.append(Goal(f"{row['run']} ({r.get('store')}): step due → chat API call, {row['rows']} reminders",
                        f"p50 {row['p50']:.2f} s, p99 {row['p99']:.2f} s, max {_num(row['max'], 1)} s",
                        f"p99 ≤ {GOAL_CHAT_P99_S:g} s (docs/chat-delivery.md)" if tg else "— (a robot's 20 msg/min)",
                        row["p99"] <= GOAL_CHAT_P99_S if tg else None))
        out.append(Goal(f"{row['run']}: lost / duplicates", f"{row['lost']} / {row['duplicates']}", "0 / 0",
                        row["lost"] == 0 and row["duplicates"] == 0))
    for row in r.get("outage") or []:
        out.append(Goal(f"outage ({row['outage']}), {row['chat']}: lost / duplicates, {row['rows']} reminders",
                        f"{row['lost']} / {row['duplicates']}; drained {_num(row.get('drain_s'))} s after recovery",
                        "0 / 0", row["lost"] == 0 and row["duplicates"] == 0))
    return out


def _page_rows(r: dict) -> list[dict]:
    """Per store and URL of the dashboard benches (ms): server time one request at a time (the issue's figure),
    and under load. Search has no goal in issue 18."""
    rows = []
    for store, s in (r.get("stores") or {}).items():
        for name, u in (s.get("urls") or {}).items():
            if isinstance(u, dict) and u.get("server_p99") is not None:
                rows.append({"name": f"{name} ({store})", "p50": u.get("server_p50"), "p99": u["server_p99"],
                             "load_p99": u.get("load_server_p99"),
                             "goal": None if "检索" in name or "q=" in u.get("path", "") else GOAL_PAGE_P99_MS})
    if r.get("server_p99") is not None:  # incident_page_speed: one page, one store
        rows.append({"name": f"incident page, {_num(r.get('items'))} reports ({r.get('store')})",
                     "p50": r.get("server_p50"), "p99": r["server_p99"], "load_p99": None, "goal": GOAL_INCIDENT_MS})
    return rows


def _pages(r: dict) -> list[Goal]:
    out = []
    for row in _page_rows(r):
        load = f"; {_num(row['load_p99'], 1)} ms with several in flight" if row.get("load_p99") is not None else ""
        out.append(Goal(f"{row['name']}: server time", f"p50 {_num(row['p50'], 1)} ms, p99 {_num(row['p99'], 1)} ms"
                        + load, f"p99 ≤ {row['goal']} ms (issue 18)" if row["goal"] else "— (issue 18 sets none)",
                        row["p99"] <= row["goal"] if row["goal"] else None))
    for store, s in (r.get("stores") or {}).items():
        live = _get(s, "urls", "live_update") or {}
        if live.get("live_update_max") is not None:
            worst = live["live_update_max"] / 1000
            out.append(Goal(f"first live update after a change ({store})",
                            f"p50 {_num(live.get('live_update_p50'))} ms, max {worst * 1000:,.0f} ms",
                            f"≤ {GOAL_LIVE_S:g} s (issue 18)", worst <= GOAL_LIVE_S))
    return out


def _roles_scaling(r: dict) -> list[Goal]:
    out = []
    for label, key, unit in (("escalation: reminders delivered", "escalation", "/s"),
                             ("ingest: signed pushes accepted", "ingest", "/s")):
        res = r.get(key) or {}
        if res:
            ks = sorted(res, key=int)
            first, last = res[ks[0]]["per_s"], res[ks[-1]]["per_s"]
            figure = ", ".join(f"{k} process{'es' if int(k) > 1 else ''}: {res[k]['per_s']:,.0f}{unit}" for k in ks)
            out.append(Goal(f"{label} (PostgreSQL)", f"{figure}; gain {last / first:.2f}×", "— (issue 20: shown)",
                            None))
    return out


def _faults(r: dict) -> list[Goal]:
    out = []
    for f in r.get("results") or []:
        rec = f"{_num(f.get('recover_s'), 1)} s ({f.get('recover_what')})" if f.get("recover_s") is not None else "–"
        ok = f.get("lost") == 0 and f.get("duplicates") == 0 and not f.get("problems")
        extra = "; ".join(f.get("problems") or [])
        out.append(Goal(f"{f['fault']}: lost / duplicates sent; time to recover",
                        f"{f.get('lost')} / {f.get('duplicates')}; {rec}" + (f"; problems: {extra}" if extra else ""),
                        "0 / 0 (issue 20)", ok))
    return out


GOALS: dict[str, Callable[[dict], list[Goal]]] = {
    "import_throughput": _import_throughput, "import_parallel": _import_parallel, "import_floor": _import_floor,
    "import_bombs": _import_bombs, "classifier_speed": _classifier_speed, "classifier_cv": _classifier_cv,
    "routing_eval": _routing_eval, "events_eval": _events_eval, "escalation_reliability": _escalation,
    "chat_delivery": _chat_delivery, "dashboard_speed": _pages, "incident_page_speed": _pages,
    "roles_scaling": _roles_scaling, "faults": _faults,
}

TITLES = {
    "import_throughput": "Import throughput, one process, against the naive pipeline",
    "import_parallel": "Import with worker processes (`yuqing import --workers N`)",
    "import_floor": "The import's floor: unskippable parts on one core",
    "import_bombs": "Spreadsheet bombs (bounded memory)",
    "classifier_speed": "Understanding speed on one core",
    "classifier_cv": "Domain classifier, cross-validated",
    "routing_eval": "Routing against the bureaus that actually answered",
    "events_eval": "Severity and event grouping (issue 15's development set)",
    "escalation_reliability": "Escalation timing and catch-up after kill -9",
    "chat_delivery": "Chat delivery latency and outages",
    "dashboard_speed": "Duty dashboard speed (now page, API, live updates)",
    "incident_page_speed": "Incident page speed",
    "roles_scaling": "Roles on PostgreSQL: 1 → 2 processes",
    "faults": "Faults: kill -9, outages, full disk, stalled pages",
}


def goals_of(name: str, result: dict | None) -> list[Goal]:
    fn = GOALS.get(name)
    if not fn or not result:
        return []
    try:
        return fn(result)
    except (KeyError, TypeError, ValueError, ZeroDivisionError) as exc:  # a changed RESULT must not sink the report
        return [Goal("figures could not be read", f"{type(exc).__name__}: {exc}", "—", None)]


# ---------------------------------------------------------------------------------------------- plots
def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import warnings

    import matplotlib.pyplot as plt

    from matplotlib import font_manager

    # labels may be Chinese (the dashboard's URLs): a CJK font where one is installed (.ci/system-deps), else boxes
    installed = {f.name for f in font_manager.fontManager.ttflist}
    cjk = [name for name in ("WenQuanYi Micro Hei", "Noto Sans CJK SC", "Noto Sans SC") if name in installed][:1]
    matplotlib.rcParams["font.family"] = ["DejaVu Sans", *cjk]
    warnings.filterwarnings("ignore", message="Glyph .* missing", category=UserWarning)

    return plt


def plot_import(doc: dict, out: Path) -> Path | None:
    par = _get(doc, "benches", "import_parallel", "result") or {}
    thr = _get(doc, "benches", "import_throughput", "result") or {}
    best = _best_runs(par)
    if not best and not thr.get("rows_per_s"):
        return None
    plt = _plt()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for w in sorted({w for _, w in best}):
        pts = sorted((n, run["rows_per_s"]) for (n, ww), run in best.items() if ww == w)
        left.plot([p[0] for p in pts], [p[1] for p in pts], "o-", label=f"--workers {w}")
    if thr.get("rows_per_s"):
        left.plot([thr["rows"]], [thr["rows_per_s"]], "s", color="black", label="import_throughput (1 process)")
    for ax in (left, right):
        ax.axhline(GOAL_IMPORT_RATE, color="green", ls="--", label=f"goal ≥ {GOAL_IMPORT_RATE:,} rows/s")
        if thr.get("naive_rows_per_s"):
            ax.axhline(thr["naive_rows_per_s"], color="red", ls=":", label="naive pipeline (same run)")
        ax.set_ylabel("rows/s end to end")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    left.set_xlabel("rows in the export")
    left.set_title("rows/s against rows")
    left.legend(fontsize=8)
    sizes = sorted({n for n, _ in best})
    for n in sizes:
        pts = sorted((w, run["rows_per_s"]) for (nn, w), run in best.items() if nn == n)
        right.plot([p[0] for p in pts], [p[1] for p in pts], "o-", label=f"{n:,} rows")
    if best:
        right.set_xticks(sorted({w for _, w in best}))
    right.set_xlabel("worker processes (--workers)")
    right.set_title("rows/s against workers")
    right.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out


def plot_rss(doc: dict, out: Path) -> Path | None:
    par = _get(doc, "benches", "import_parallel", "result") or {}
    thr = _get(doc, "benches", "import_throughput", "result") or {}
    best = _best_runs(par)
    if not best and not thr.get("peak_rss_mb"):
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for w in sorted({w for _, w in best}):
        pts = sorted((n, run) for (n, ww), run in best.items() if ww == w)
        ax.plot([n for n, _ in pts], [r["writer_rss_mb"] for _, r in pts], "o-", label=f"writer, --workers {w}")
        if w > 1:
            ax.plot([n for n, _ in pts], [r["worker_rss_mb"] for _, r in pts], "^--", label=f"largest worker, --workers {w}")
    if thr.get("peak_rss_mb"):
        ax.plot([thr["rows"]], [thr["peak_rss_mb"]], "s", color="black", label="import_throughput (1 process)")
    ax.axhline(GOAL_RSS_MB, color="green", ls="--", label=f"goal ≤ {GOAL_RSS_MB} MB per process")
    ax.set_xlabel("rows in the export")
    ax.set_ylabel("peak RSS (MB)")
    ax.set_ylim(bottom=0)
    ax.set_title("peak RSS against rows")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out


def _bars(out: Path, title: str, labels: list[str], series: dict[str, list[float]], unit: str,
          goal: float | None, goal_label: str) -> Path:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(labels) + 3), 4.2))
    width = 0.8 / max(1, len(series))
    for i, (name, values) in enumerate(series.items()):
        xs = [j + (i - (len(series) - 1) / 2) * width for j in range(len(labels))]
        ax.bar(xs, [v if v is not None else 0 for v in values], width, label=name)
    if goal is not None:
        ax.axhline(goal, color="green", ls="--", label=goal_label)
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels(labels, rotation=20, ha="right", fontsize=8)
    ax.set_ylabel(unit)
    ax.set_title(title)
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out


def plot_escalation(doc: dict, out: Path) -> Path | None:
    p = _get(doc, "benches", "escalation_reliability", "result", "precision") or {}
    rows = [(k, p.get(k + "_s")) for k in ("fired", "delivered") if p.get(k + "_s", {}).get("n")]
    if not rows:
        return None
    labels = ["step → outbox row (fired)", "step → webhook received"][:len(rows)]
    series = {q: [r[q] for _, r in rows] for q in ("p50", "p95", "p99", "max")}
    return _bars(out, f"escalation lateness, {p.get('deadlines'):,} open deadlines", labels, series, "seconds",
                 GOAL_FIRED_P99_S, f"goal: fired p99 ≤ {GOAL_FIRED_P99_S:g} s")


def plot_chat(doc: dict, out: Path) -> Path | None:
    rows = _get(doc, "benches", "chat_delivery", "result", "latency") or []
    rows = [r for r in rows if r.get("rows")]
    if not rows:
        return None
    series = {q: [r[q] for r in rows] for q in ("p50", "p95", "p99")}
    return _bars(out, "chat delivery: step due → chat API call", [r["run"] for r in rows], series, "seconds",
                 GOAL_CHAT_P99_S, f"goal: p99 ≤ {GOAL_CHAT_P99_S:g} s (Telegram)")


def _plot_pages(bench: str, title: str, goal: float):
    def plot(doc: dict, out: Path) -> Path | None:
        rows = _page_rows(_get(doc, "benches", bench, "result") or {})
        if not rows:
            return None
        series = {"p50": [r["p50"] for r in rows], "p99": [r["p99"] for r in rows]}
        if any(r["load_p99"] is not None for r in rows):
            series["p99, several in flight"] = [r["load_p99"] for r in rows]
        return _bars(out, title, [r["name"][:40] for r in rows], series, "ms", goal, f"goal: p99 ≤ {goal:g} ms")
    return plot


plot_dashboard = _plot_pages("dashboard_speed", "dashboard server time per URL", GOAL_PAGE_P99_MS)
plot_incident_page = _plot_pages("incident_page_speed", "incident page time", GOAL_INCIDENT_MS)


PLOTS: dict[str, list[tuple[str, Callable[[dict, Path], Path | None]]]] = {
    "import_parallel": [("import_rows_per_s.png", plot_import), ("rss.png", plot_rss)],
    "escalation_reliability": [("latency_escalation.png", plot_escalation)],
    "chat_delivery": [("latency_chat.png", plot_chat)],
    "dashboard_speed": [("latency_dashboard.png", plot_dashboard)],
    "incident_page_speed": [("latency_incident_page.png", plot_incident_page)],
}


# ---------------------------------------------------------------------------------------------- markdown
def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _goal_table(goals: list[Goal]) -> list[str]:
    lines = ["| measured | figure | goal | met? | naive baseline, same run |", "|---|---|---|---|---|"]
    for g in goals:
        lines.append(f"| {_cell(g.what)} | {_cell(g.figure)} | {_cell(g.goal)} | {met_text(g.met)} | "
                     f"{_cell(g.baseline) or '—'} |")
    return lines


def _load(x) -> str:
    return ", ".join(f"{v:.2f}" for v in x) if x else "–"


def write_report(doc: dict, md_path: Path, fig_dir: Path) -> str:
    """Write the PNGs into fig_dir and the Markdown to md_path (links relative to it); returns the Markdown."""
    fig_dir.mkdir(parents=True, exist_ok=True)
    for old in fig_dir.glob("*.png"):
        old.unlink()  # a plot of a bench that did not run this time must not linger
    m = doc.get("machine") or {}
    benches = doc.get("benches") or {}
    everything: list[tuple[str, Goal]] = []
    sections: list[str] = []
    for name, entry in benches.items():
        title = TITLES.get(name, name)
        sec = [f"## {title}", "", f"`{' '.join(entry.get('argv') or [])}` — {entry.get('status')}, "
               f"{_num(entry.get('seconds'))} s wall, {_num(entry.get('cpu_s'))} s CPU; load average "
               f"{_load(entry.get('load_before'))} before → {_load(entry.get('load_after'))} after", ""]
        if entry.get("status") != "ok":
            sec += [f"**Failed** (exit {entry.get('returncode')}): no RESULT line. The tail of its stderr:", "",
                    "```", entry.get("stderr_tail") or "(empty)", "```", ""]
            everything.append((name, Goal("the benchmark ran", "failed", "it runs", False)))
        else:
            goals = goals_of(name, entry.get("result"))
            everything += [(name, g) for g in goals]
            sec += _goal_table(goals) if goals else ["(no goal rows for this benchmark)"]
            sec.append("")
            if entry.get("returncode") not in (0, None):
                sec += [f"It exited with {entry['returncode']} (it reports what did not hold).", ""]
            for file, plot in PLOTS.get(name, []):
                try:
                    path = plot(doc, fig_dir / file)
                except Exception as exc:  # a plot that cannot be drawn is reported, not fatal
                    sec += [f"(plot {file} failed: {type(exc).__name__}: {exc})", ""]
                    continue
                if path:
                    rel = Path(os.path.relpath(path, md_path.parent)).as_posix()
                    sec += [f"![{file}]({rel})", ""]
            sec += ["<details><summary>all figures (RESULT)</summary>", "", "```json",
                    json.dumps(entry.get("result"), ensure_ascii=False, indent=1, default=str)[:6000], "```", "",
                    "</details>", ""]
        sections += sec
    met = sum(1 for _, g in everything if g.met)
    not_met = sum(1 for _, g in everything if g.met is False)
    head = [
        "# Benchmark report", "",
        "Written by `bench/run` (bench/run.py, bench/report.py); the figures are in bench/results/latest.json.",
        "",
        f"- **Date**: {doc.get('date')}; **commit** {m.get('commit')}{' (with uncommitted changes)' if m.get('dirty') else ''}"
        f"{'; **--quick** (small sizes: a check of the harness, not figures to quote)' if doc.get('quick') else ''}",
        f"- **Machine**: {m.get('cpu')}, {m.get('cores')} cores, {m.get('ram_gb')} GB RAM; {m.get('system')}; "
        f"Python {m.get('python')}, SQLite {m.get('sqlite')}, PostgreSQL {m.get('postgresql') or 'not reached'}",
        f"- **Load average** (1, 5, 15 min) at the start {_load(doc.get('load_average_start'))}, at the end "
        f"{_load(doc.get('load_average_end'))}; each benchmark's before and after is in its section. Wall-clock "
        "figures from a shared machine are noisy: a load above the core count means other work held the cores, "
        "and CPU-time figures (where shown) are the steadier ones.",
        f"- **Whole run**: {_num(doc.get('wall_s'))} s; goals met {met}, not met {not_met}, "
        f"figures without a goal {sum(1 for _, g in everything if g.met is None)}.",
        *(f"- **Re-run** {r['names']} at {r['date']} on commit {r['commit']} ({r['why']})"
          for r in doc.get("reruns", [])),
        "", "## Summary", "", "| benchmark | measured | figure | goal | met? |", "|---|---|---|---|---|",
    ]
    for name, g in everything:
        if g.met is not None:
            head.append(f"| {name} | {_cell(g.what)} | {_cell(g.figure)} | {_cell(g.goal)} | {met_text(g.met)} |")
    text = "\n".join(head + [""] + sections).rstrip() + "\n"
    md_path.parent.mkdir(parents=True, exist_ok=True)
    md_path.write_text(text, encoding="utf-8")
    return text
