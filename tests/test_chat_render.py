"""The chat renderer (responders/render.py): the words, and for arbitrary scraped titles (markup, 10 KB) every
format stays within its platform's limit and carries no markup but ours."""

import json
import re
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser

from hypothesis import HealthCheck, example, given, settings, strategies as st

from responders.render import FORMATS, MARKDOWN_SPECIAL, Card, Mention, card, fit, render

NOW = datetime(2026, 12, 6, 4, 0, tzinfo=timezone.utc)  # 12:00 Beijing
BASE = "https://yuqing.example.gov.cn"
HOSTILE = ["<b>", "</a>", "*", "[x](javascript:alert(1))", "<@zhangsan>", "&amp;", "**粗**", "`code`", "_斜_",
           "<a href='javascript:x'>点</a>", "\n# 标题\n- 列表", "\\*", "@13800000000", "&#60;b&#62;"]


def payload(title="马街街道一化工厂发生爆炸", due_in=timedelta(hours=1, minutes=29), **extra):
    p = {"incident_id": 281, "rule": "authoritative_release", "step": "1", "severity": "重大",
         "department": "区应急局", "title": title, "rule_title": "5小时内发布权威信息", "evidence": "权威信息发布",
         "recipients": ["赵联络员"], "due_at": (NOW + due_in).isoformat(), "text": "旧文本"}
    return p | extra


def test_a_reminder_says_what_who_when_and_where():
    out, _ = render(payload(), "telegram", NOW, BASE)
    assert out.splitlines() == [
        "<b>🟠【重大】#281 </b><b>马街街道一化工厂发生爆炸</b>",
        "责任单位：区应急局",
        "期限：5小时内发布权威信息，剩余 1小时29分（2026-12-06 13:29 到期）",
        "下一步：完成权威信息发布后登记证据；已知悉请先确认收到。",
        "提醒：赵联络员",
        f'详情：<a href="{BASE}/incidents/281">打开事件页面</a>',
    ]


def test_overdue_says_how_late_and_missed_reminders_are_explained():
    out, _ = render(payload(due_in=-timedelta(minutes=35), missed=2), "wecom_text", NOW, BASE)
    assert "已超期 35分（2026-12-06 11:25 到期）" in out
    assert "错过 2 次提醒" in out


def test_an_alert_without_deadline_shows_its_text():
    p = payload(due_at=None, rule="transfer", text="事件发生在辖区外，请转办省应急厅。")
    out, _ = render(p, "dingtalk", NOW, BASE)
    assert "内容：事件发生在辖区外，请转办省应急厅。" in out and "期限" not in out


def test_rule_title_falls_back_to_config_then_name():
    p = payload()
    del p["rule_title"]
    assert "期限：24小时发布会" in render(p, "wecom_text", NOW, BASE, rule_titles={"authoritative_release": "24小时发布会"})[0]
    assert "期限：authoritative_release" in render(p, "wecom_text", NOW, BASE)[0]


def test_mentions_name_people_and_dingtalk_ats_their_mobiles():
    people = [Mention("赵联络员", "13800000000"), Mention("钱主任")]
    out, c = render(payload(), "dingtalk", NOW, BASE, people)
    assert "提醒：赵联络员、钱主任" in out and out.endswith("@13800000000")
    assert c.mobiles == ["13800000000"]
    assert "@13800000000" not in render(payload(), "wecom", NOW, BASE, people)[0]  # WeCom ats by the list


def test_without_base_url_there_is_no_link():
    assert "详情" not in render(payload(), "dingtalk", NOW, "")[0]


def test_markdown_neutralises_every_markup_character_of_scraped_text():
    out, _ = render(payload(title="".join(HOSTILE)), "dingtalk", NOW, BASE)
    title_line = out.split("\n\n")[0]
    assert title_line.startswith("**") and title_line.endswith("**")
    assert not set(title_line[2:-2]) & set(MARKDOWN_SPECIAL)
    assert "［x］（javascript:alert（1））" in title_line  # readable, not a link


# --------------------------------------------------------------------------- properties
def _skeleton(text: str) -> str:
    return "".join(ch for ch in text if ch in MARKDOWN_SPECIAL or ch == "\n")


def _neutral(c: Card) -> Card:
    """The same card with every text replaced by a harmless letter: what our own markup alone looks like."""
    return Card("x", tuple(tuple(replace(s, text="x" if s.text.strip() else s.text) for s in line)
                           for line in c.lines), c.mentions)


class _Html(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags, self.data = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, tuple(attrs)))

    def handle_data(self, data):
        self.data.append(data)


# pieces of markup and characters that mean something to one platform or another, glued together; and anything
texts = st.lists(st.sampled_from(list("<>/&;*_[]()!`#@\\|~{}$=+-:\"' \nabcx中文爆炸🔥") + HOSTILE),
                 max_size=60).map("".join) | st.text(max_size=300)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(title=texts, department=texts, repeat=st.integers(1, 400))
@example(title="测" * 10_000, department="区应急局", repeat=1)
@example(title="<b>" * 3_000 + "</a>", department="*", repeat=1)
@example(title="[x](javascript:alert(1))" * 400, department="&amp;", repeat=1)
@example(title="&" * 10_000, department="<", repeat=1)
def test_every_format_fits_its_limit_and_injects_nothing(title, department, repeat):
    p = payload(title=title * repeat if len(title) * repeat <= 12_000 else title, department=department)
    c0 = card(p, NOW, BASE, [Mention("赵<b>联络员", "13800000000")])
    for kind, fmt in FORMATS.items():
        out, c = fit(c0, kind)
        assert fmt.measure(out) <= fmt.limit, kind
        if kind in ("dingtalk", "wecom"):
            assert _skeleton(out) == _skeleton(fmt.write(_neutral(c))), kind
            assert out.count("](") == 1 and f"]({BASE}/incidents/281)" in out
        elif kind == "telegram":
            parsed = _Html()
            parsed.feed(out)
            parsed.close()
            assert {t for t, _ in parsed.tags} <= {"b", "a"}
            assert [a for t, a in parsed.tags if t == "a"] == [(("href", f"{BASE}/incidents/281"),)]
            assert "".join(parsed.data) == "\n".join("".join(s.text for s in line) for line in c.lines)
            assert not re.search(r"&(?!(amp|lt|gt);)", out)  # every & begins a whole entity
        elif kind == "wecom_text":
            assert "<@" not in out
        elif kind == "feishu":
            elements = [e for row in out["post"]["zh_cn"]["content"] for e in row]
            assert {e["tag"] for e in elements} <= {"text", "a"}
            assert [e["href"] for e in elements if e["tag"] == "a"] == [f"{BASE}/incidents/281"]
            json.dumps(out, ensure_ascii=False)


def test_a_10kb_title_is_cut_with_an_ellipsis_and_the_rest_survives():
    out, c = render(payload(title="爆" * 10_240), "wecom", NOW, BASE)
    assert len(out.encode()) <= 4096
    assert "…" in out and "责任单位：区应急局" in out and f"({BASE}/incidents/281)" in out
