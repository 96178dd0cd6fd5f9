"""Routing against reality: the bureau that actually answered each message of
../shared/data/raw/tipdm2020C_fj4_full2816_replies.xlsx (named in its 答复意见) versus our routing.

    .venv/bin/python bench/routing_eval.py [--jurisdiction config/jurisdictions/yunnan.yaml] [--show 0]

The board is anonymised (A市, A7县), so departments are compared by what they are (their function:
教育, 公安, 住房城乡建设 …) and by level (city / county / street), not by exact name. The answering bureau
is read from the reply: the signature at its end first, then "经…调查/核实", then the first bureau named;
replies that name none ("我局", "网友您好") are left out and counted. City management (城管) answers are
compared with 住房城乡建设, which leads 城市综合执法 in 云政办发〔2020〕33号.
Prints coverage, agreement on function, on level, on both, and a confusion table of functions.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from monitor.config.settings import BUNDLED_CONFIG  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
REPLIES = ROOT.parent / "shared" / "data" / "raw" / "tipdm2020C_fj4_full2816_replies.xlsx"

# What a bureau is, from the words of its name (first match wins: longer, more specific names first).
FUNCTIONS = [
    ("城市管理", ("城市管理和行政执法局", "城市管理局", "城管执法", "城管局", "行政执法局", "城管办", "执法大队", "执法中队")),
    ("住房城乡建设", ("住房和城乡建设局", "住房城乡建设局", "住建局", "住房保障局", "城乡建设局", "建设局", "房产局",
                "房屋征收", "住房公积金管理中心", "不动产")),
    ("自然资源", ("自然资源局", "国土资源局", "国土局", "城乡规划局", "规划局", "规划分局", "征地")),
    ("教育", ("教育局", "教育体育局", "教体局", "教育厅", "学校", "中学", "小学")),
    ("公安", ("公安局", "公安分局", "派出所", "交警大队", "交警支队", "交警", "交通警察")),
    ("人力资源社会保障", ("人力资源和社会保障局", "人社局", "人力资源社会保障局", "劳动保障监察", "社保局",
                   "社会保险", "医疗保险", "就业服务")),
    ("交通运输", ("交通运输局", "交通局", "运管", "公路局", "客运")),
    ("生态环境", ("生态环境局", "环境保护局", "环保局", "生态环境分局")),
    ("卫生健康", ("卫生健康委", "卫健委", "卫生计生委", "卫计委", "卫生局", "卫生健康局", "医院")),
    ("市场监管", ("市场监督管理局", "市场监管局", "工商局", "工商分局", "食药监", "质监局", "物价局")),
    ("民政", ("民政局",)),
    ("商务", ("商务局", "商务厅", "商务和粮食局")),
    ("文化和旅游", ("文化旅游", "旅游局", "文旅局", "文广新局", "文体广电")),
    ("农业农村", ("农业农村局", "农业局", "农委", "畜牧", "林业局", "水利局", "水务局")),
    ("发展改革", ("发展和改革局", "发改委", "发改局", "发展改革局")),
    ("财政", ("财政局",)),
    ("税务", ("税务局",)),
    ("司法行政", ("司法局",)),
    ("应急管理", ("应急管理局", "安监局", "安全生产监督管理局")),
    ("政府", ("人民政府", "政府办", "管委会", "街道办事处", "街道办", "镇人民政府", "乡人民政府", "镇政府", "街道")),
]
COMPARE_AS = {"城市管理": "住房城乡建设"}
_BUREAU = re.compile(
    r"((?:[A-Z]\d{0,2}[市区县]|[\u4e00-\u9fa5]{2,6}(?:街道|镇|乡)|[市区县省])?"
    r"[\u4e00-\u9fa5]{0,8}?(?:" + "|".join(sorted({w for _, ws in FUNCTIONS for w in ws}, key=len, reverse=True))
    + r"))")


def function_of(name: str) -> str:
    for function, words in FUNCTIONS:
        if any(w in name for w in words):
            return function
    return ""


def level_of(name: str) -> str:
    if re.search(r"街道|镇|乡", name):
        return "street"
    if re.match(r"[A-Z]\d+[区县]|[区县]", name) or re.match(r"[A-Z]\d+市", name):
        return "county"
    if re.match(r"[A-Z]市|市", name):
        return "city"
    if name.startswith("省"):
        return "province"
    return ""


def answering_bureau(reply: str) -> str:
    """The bureau that answered, or "" when the reply names none."""
    reply = re.sub(r"\s+", "", reply)
    tail = reply[-80:]
    signed = _BUREAU.findall(tail)
    if signed:
        return signed[-1]
    m = re.search(r"经(.{0,30}?)(?:调查|核实|核查|了解)", reply)
    if m:
        found = _BUREAU.findall(m.group(1))
        if found:
            return found[0]
    found = _BUREAU.findall(reply[:200])
    return found[0] if found else ""


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jurisdiction", default=str(BUNDLED_CONFIG / "jurisdictions" / "yunnan.yaml"))
    ap.add_argument("--show", type=int, default=0, help="print this many disagreements")
    args = ap.parse_args()
    from python_calamine import CalamineWorkbook

    from monitor.understanding.jurisdiction import load_jurisdiction
    from monitor.understanding.understander import Understander

    rows = CalamineWorkbook.from_path(str(REPLIES)).get_sheet_by_name("Sheet1").to_python()[1:]
    understander = Understander.load(BUNDLED_CONFIG / "lexicons", load_jurisdiction(Path(args.jurisdiction)), 0.35)
    started = time.perf_counter()
    truth = []
    for r in rows:
        bureau = answering_bureau(str(r[5] or ""))
        truth.append((bureau, function_of(bureau), level_of(bureau)))
    decisions = understander.understand_many([(str(r[2] or ""), str(r[4] or "")) for r in rows])
    seconds = time.perf_counter() - started
    named = [(t, u, r) for t, u, r in zip(truth, decisions, rows) if t[1]]
    fn_ok = lvl_ok = both = 0
    lvl_n = 0
    confusion: Counter = Counter()
    levels: Counter = Counter()
    disagreements = []
    among = 0
    for (bureau, function, level), u, r in named:
        ours_fn = u.function or ("政府" if u.route_rule in ("fallback", "outside") else "")
        want = COMPARE_AS.get(function, function)
        got = COMPARE_AS.get(ours_fn, ours_fn)
        confusion[(want, got)] += 1
        f_ok = want == got
        our_level = {"district": "county"}.get(u.level, u.level)
        l_ok = None
        if level and our_level:
            levels[(level, our_level)] += 1
            lvl_n += 1
            l_ok = level == our_level or (level == "street" and our_level == "county")
            lvl_ok += l_ok
        fn_ok += f_ok
        # The answering body among the lead and co-handlers (a street office co-handling counts).
        among += f_ok or (function == "政府" and any(c.endswith(("办事处", "人民政府")) for c in u.co_departments))
        both += f_ok and bool(l_ok)  # counted over the messages whose two levels are known
        if not f_ok and len(disagreements) < args.show:
            disagreements.append(f"  {r[2][:40]} | 答复：{bureau}（{function}）| 我们：{u.department}（{ours_fn}）")
    n = len(named)
    print(f"{len(rows)} messages with replies; answering bureau named in {n} ({n / len(rows):.1%}); "
          f"understood in {seconds:.1f}s ({len(rows) / seconds:.0f} msg/s)")
    print(f"function agreement: {fn_ok}/{n} = {fn_ok / n:.1%}")
    dept = [(t, u) for t, u, _ in named if t[1] != "政府"]
    dept_ok = sum(COMPARE_AS.get(t[1], t[1]) == COMPARE_AS.get(u.function, u.function) for t, u in dept)
    print(f"function agreement where a functional bureau answered (not a government or street office): "
          f"{dept_ok}/{len(dept)} = {dept_ok / max(len(dept), 1):.1%}")
    print(f"level agreement (both levels known, street counted as county): {lvl_ok}/{lvl_n} = "
          f"{lvl_ok / max(lvl_n, 1):.1%}")
    print(f"function and level (of those with both levels known): {both}/{lvl_n} = {both / max(lvl_n, 1):.1%}")
    print(f"answering body is the lead or (for street/town answers) a co-handling office: {among}/{n} = "
          f"{among / n:.1%}")
    functions = [f for f, _ in Counter(COMPARE_AS.get(t[1], t[1]) for t, _, _ in named).most_common(12)]
    width = max(len(f) for f in functions) + 2
    print("\nconfusion (rows: answering bureau, columns: ours; top functions, counts)")
    print(" " * width + " ".join(f"{f[:4]:>5s}" for f in functions) + "  其他")
    for want in functions:
        cells = [confusion[(want, got)] for got in functions]
        other = sum(v for (w, g), v in confusion.items() if w == want and g not in functions)
        print(f"{want:{width}s}" + " ".join(f"{c:5d}" for c in cells) + f"{other:6d}")
    print("\nlevels (answering bureau → ours): " + ", ".join(f"{a}→{b} {n}" for (a, b), n in levels.most_common()))
    if disagreements:
        print("\ndisagreements:")
        print("\n".join(disagreements))
    from bench.result import emit

    emit({"messages": len(rows), "named": n, "msg_per_s": round(len(rows) / seconds),
          "function_agreement": round(fn_ok / n, 4), "functional_bureau_agreement": round(dept_ok / max(len(dept), 1), 4),
          "level_agreement": round(lvl_ok / max(lvl_n, 1), 4), "function_and_level": round(both / max(lvl_n, 1), 4),
          "lead_or_co_handler": round(among / n, 4)})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
