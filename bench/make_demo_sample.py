"""Build the demo's bundled sample (monitor/config/bundled/demo/hotline_sample.csv) from ../shared/data/raw.

A few hundred real, anonymised messages, written as a GB18030 CSV with the headers a 12345 platform
exports, so that the demo exercises encoding detection and header mapping. Deterministic.

    python bench/make_demo_sample.py
"""

import csv
import random
import re
from pathlib import Path

from python_calamine import CalamineWorkbook
from monitor.config.settings import BUNDLED_CONFIG

ROOT = Path(__file__).resolve().parents[1]
RAW = ROOT.parent / "shared" / "data" / "raw"
OUT = BUNDLED_CONFIG / "demo" / "hotline_sample.csv"


def rows(name):
    table = CalamineWorkbook.from_path(str(RAW / name)).get_sheet_by_index(0).to_python()
    head = [str(h) for h in table[0]]
    return [dict(zip(head, r)) for r in table[1:]]


def clean(text):
    return re.sub(r"\s+", " ", str(text or "")).strip()


def main():
    rng = random.Random(20261123)
    out = []
    replies = rows("tipdm2020C_fj4_full2816_replies.xlsx")
    likes = rows("tipdm2020C_fj3_full4326_likes.xlsx")
    for r in rng.sample(replies, 150):
        out.append({"工单编号": f"R{int(float(r['留言编号']))}", "标题": clean(r["留言主题"]),
                    "诉求内容": clean(r["留言详情"])[:600], "受理时间": str(r["留言时间"]),
                    "诉求人": r["留言用户"], "办理状态": "已办结", "信息来源": "网站", "点赞数": 0,
                    "答复意见": clean(r["答复意见"])[:300], "答复时间": str(r["答复时间"])})
    for r in rng.sample(likes, 130):
        out.append({"工单编号": f"L{int(float(r['留言编号']))}", "标题": clean(r["留言主题"]),
                    "诉求内容": clean(r["留言详情"])[:600], "受理时间": str(r["留言时间"]),
                    "诉求人": r["留言用户"], "办理状态": "办理中", "信息来源": "网站",
                    "点赞数": int(float(r["点赞数"] or 0)), "答复意见": "", "答复时间": ""})
    # The same complaint submitted again under new work-order numbers: exact duplicates to group.
    for r in out[:12]:
        out.append({**r, "工单编号": r["工单编号"] + "-2", "诉求人": r["诉求人"] + "x"})
    rng.shuffle(out)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("w", encoding="gb18030", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(out[0]))
        writer.writeheader()
        writer.writerows(out)
    print(f"wrote {len(out)} rows to {OUT}")


if __name__ == "__main__":
    main()
