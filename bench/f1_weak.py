"""Weak labels from the government's replies (raw/tipdm2020C_fj4_full2816_replies.xlsx, 答复意见): the
answering bureau named in the reply → a domain class. A reply maps clearly when the bureaus it names
belong to exactly one class (counted once per pattern)."""

from __future__ import annotations

import re
from collections import Counter

BUREAUS = {
    "教育文体": r"教育局|教育厅|教育部|教育委员会|教委|体育局|文体局|文体广电|学校|教育基金",
    "劳动和社会保障": r"人社局|人力资源和社会保障|人力资源社会保障|社会保障局|社保局|社保中心|社会保险|医疗保险|医保|"
                r"劳动监察|劳动保障|就业服务",
    "卫生计生": r"卫健委|卫生健康|卫生和计划生育|卫计委|卫计局|卫生局|计生|计划生育|疾控|医院|卫生院|卫生服务中心|食品药品",
    "交通运输": r"交通运输局|交通局|交通运输厅|交通运输委|交警|公交|运管|道路运输|出租车|客运|地铁|轨道交通|车管所|高速",
    "城乡建设": r"住建|住房和城乡建设|城乡建设|城管|城市管理|行政执法局|自然资源|国土|规划局|规划分局|房产局|住房保障|"
            r"不动产|公积金|房屋征收|征收办|物业|供水|自来水|燃气",
    "环境保护": r"生态环境|环保局|环境保护|环境监察|环境监测|环保",
    "商贸旅游": r"商务局|市场监督管理|市场监管|工商局|工商|文旅|旅游局|文化和旅游|文化旅游|物价|价格监督",
}
_PATTERNS = {k: re.compile(v) for k, v in BUREAUS.items()}


def reply_label(reply: str) -> tuple[str | None, dict]:
    """(class or None, hits per class)."""
    hits = {k: len(p.findall(reply)) for k, p in _PATTERNS.items()}
    hits = {k: v for k, v in hits.items() if v}
    if len(hits) == 1:
        return next(iter(hits)), hits
    return None, hits


def reply_label_dominant(reply: str, ratio: float = 3.0) -> tuple[str | None, dict]:
    """Class with ≥ `ratio` × the hits of any other (looser)."""
    hits = Counter({k: len(p.findall(reply)) for k, p in _PATTERNS.items()})
    top = hits.most_common(2)
    if top[0][1] and top[0][1] >= ratio * max(top[1][1], 0.5):
        return top[0][0], dict(hits)
    return None, dict(hits)


def taxonomy_docs(path) -> list[tuple[str, str]]:
    """(level-1 class, "level-2 level-3" text) of the official taxonomy, skipping 其他 parts."""
    from python_calamine import CalamineWorkbook

    rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()[1:]
    out = []
    for r in rows:
        parts = [str(x).strip() for x in r[1:3] if x and str(x).strip() != "其他"]
        if parts:
            out.append((str(r[0]).strip(), " ".join(parts)))
    return out
