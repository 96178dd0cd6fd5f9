"""The daily digest, pure: its window and schedule, what it counts (one event once, each deadline as it stood at
the digest's moment), the rendered text and HTML against golden files with a fixed clock, escaping of scraped
text, the chart and its font. The store and SMTP halves are in test_digest_mail.py."""

from __future__ import annotations

import io
import os
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from monitor.core.clock import SHANGHAI, as_utc
from monitor.core.model import Deadline, Incident
from monitor.deadlines.outcomes import Rate
from monitor.reports import chart, digest, render
from monitor.reports.fonts import FontMissing, find_font, missing_glyphs

GOLDEN = Path(__file__).parent / "data" / "golden"
UPDATE = os.environ.get("YUQING_UPDATE_GOLDEN") == "1"


def bj(day: int, hour: int, minute: int = 0, month: int = 12) -> datetime:
    return as_utc(datetime(2026, month, day, hour, minute, tzinfo=SHANGHAI))


def incident(id: int, title: str, department: str, severity: int, created: datetime, *, seen: datetime | None = None,
             status: str = "open", domain: str = "", areas: tuple = (), items: int = 1, places: tuple = ()) -> Incident:
    seen = seen or created
    return Incident(id=id, title=title, kind="incident", status=status, triage="none", domain=domain,
                    domain_confidence=0.9, department=department, co_departments=[], region="昆明市西山区",
                    severity=severity, response_type="", sensitive_areas=list(areas), reasons=[], first_seen_at=seen,
                    last_seen_at=seen, published_at=None, item_count=items, reporter_count=items, likes=0,
                    created_at=created, updated_at=created, merged_into=None,
                    event={"places": list(places)} if places else None)


def deadline(id: int, incident_id: int, rule: str, title: str, department: str, due: datetime, *,
             created: datetime, state: str = "open", closed: datetime | None = None) -> Deadline:
    return Deadline(id=id, incident_id=incident_id, rule=rule, title=title, department=department, starts_at=created,
                    due_at=due, state=state, satisfied_by=EVIDENCE.get(rule, rule), closed_at=closed, close_reason=None, evidence_id=None,
                    policy=None, step=0, fires=0, next_at=None, acked_step=None, acked_by=None, acked_at=None,
                    created_at=created, updated_at=created)


EVIDENCE = {"authoritative_release": "release", "policy_interpretation": "interpretation"}


HOSTILE = "<script>alert(1)</script>碧鸡街道\n工地坍塌\u202e&amp;"


def sample(now: datetime = bj(7, 9, 30)) -> digest.DigestData:
    """Digest of 7 December 2026 (08:00), computed at 09:30: its moment has passed, so it shows 08:00."""
    w = digest.window(date(2026, 12, 7), 8, 0, now)
    incidents = {
        1: incident(1, "马街街道一化工厂发生爆炸", "区应急局", 3, bj(6, 9), seen=bj(6, 8, 50), domain="环境保护",
                    areas=("安全生产",), items=3, places=("马街街道",)),
        2: incident(2, HOSTILE, "区住房城乡建设局", 2, bj(6, 12), domain="城乡建设", areas=("安全生产",)),
        3: incident(3, "投诉小区夜间施工噪音", "区生态环境分局", 1, bj(6, 22), domain="环境保护"),
        4: incident(4, "学校食堂饭菜质量差", "区教育体育局", 1, bj(1, 10), domain="教育文体"),
        5: incident(5, "马街化工厂爆炸死亡人数", "区应急局", 3, bj(6, 10), status="merged"),
        6: incident(6, "关于印发《西山区养犬管理规定》的通知", "区公安分局", 1, bj(1, 9)),
        7: incident(7, "某小区燃气爆燃", "区应急局", 3, bj(5, 5)),
        8: incident(8, "福海街道民房垮塌", "区住房城乡建设局", 3, bj(5, 20)),
    }
    deadlines = [
        deadline(1, 1, "authoritative_release", "5小时内发布权威信息", "区应急局", bj(6, 13, 50), created=bj(6, 9),
                 state="satisfied", closed=bj(6, 12)),
        deadline(2, 1, "press_conference", "24小时内举行新闻发布会", "区应急局", bj(7, 8, 50), created=bj(6, 9)),
        deadline(3, 6, "policy_interpretation", "3个工作日内发布政策解读", "区公安分局", bj(5, 0), created=bj(1, 9)),
        deadline(4, 7, "authoritative_release", "5小时内发布权威信息", "区应急局", bj(5, 10), created=bj(5, 5),
                 state="satisfied", closed=bj(6, 10)),
        deadline(5, 4, "promise_3", "承诺事项：一周内更换食堂承包商", "区教育体育局", bj(8, 18), created=bj(2, 9)),
        deadline(6, 5, "authoritative_release", "5小时内发布权威信息", "区应急局", bj(6, 10), created=bj(6, 10)),
        deadline(7, 8, "press_conference", "24小时内举行新闻发布会", "区住房城乡建设局", bj(6, 20), created=bj(5, 20),
                 state="satisfied", closed=bj(7, 9)),  # closed after the digest's moment: overdue at 08:00
        deadline(8, 8, "authoritative_release", "5小时内发布权威信息", "区住房城乡建设局", bj(6, 1), created=bj(5, 20),
                 state="cancelled", closed=bj(6, 0)),
    ]
    return digest.DigestData(window=w, new=[incidents[1], incidents[2], incidents[3]], historical=12,
                             deadlines=deadlines, incidents=incidents,
                             places={1: ["马街街道"], 2: ["碧鸡街道", "昆明市西山区"]}, triage_pending=4,
                             arrivals=[3, 0, 5, 2, 0, 1, 3], dashboard_url="https://yuqing.example.gov.cn/")


def built(now: datetime = bj(7, 9, 30)) -> digest.Digest:
    return digest.build(sample(now), "西山区", ("昆明市西山区", "西山区"))


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path} missing: run with YUQING_UPDATE_GOLDEN=1 once and review it"
    assert text == path.read_text(encoding="utf-8")


# --------------------------------------------------------------------------- window and schedule
def test_window_is_the_24_hours_up_to_the_digest_moment_in_beijing_time():
    w = digest.window(date(2026, 12, 7), 8, 0, bj(7, 9, 30))
    assert (w.start, w.end, w.as_of) == (bj(6, 8), bj(7, 8), bj(7, 8))
    assert w.chart_days == [date(2026, 11, 30) + timedelta(days=n) for n in range(7)]
    assert w.chart_bounds[0] == bj(30, 0, month=11) and w.chart_bounds[-1] == bj(7, 0)
    early = digest.window(date(2026, 12, 7), 8, 0, bj(7, 6))  # a preview before 08:00 shows now
    assert early.as_of == bj(7, 6)


def test_the_digest_is_due_from_its_moment_and_the_next_moment_is_tomorrow_after_it():
    assert digest.digest_due(bj(7, 7, 59), 8, 0) is None
    assert digest.digest_due(bj(7, 8, 0), 8, 0) == date(2026, 12, 7)
    assert digest.digest_due(bj(7, 23, 59), 8, 0) == date(2026, 12, 7)
    assert digest.next_moment(bj(7, 7, 59), 8, 0) == bj(7, 8)
    assert digest.next_moment(bj(7, 8, 0), 8, 0) == bj(8, 8)
    # 23:30 UTC on the 6th is 07:30 on the 7th in Beijing
    assert digest.digest_due(datetime(2026, 12, 6, 23, 30, tzinfo=timezone.utc), 7, 0) == date(2026, 12, 7)


# --------------------------------------------------------------------------- counting
def test_counts_one_event_once_and_each_deadline_as_it_stood_at_the_digest_moment():
    d = built()
    # overdue: the policy interpretation (due 5 Dec) and the press conference closed only at 09:00, after 08:00;
    # not the merged incident's release nor the cancelled one
    assert [(x.incident_id, x.what) for x in d.overdue] == [(6, "3个工作日内发布政策解读"), (8, "24小时内举行新闻发布会")]
    assert [x.incident_id for x in d.met] == [1] and [x.incident_id for x in d.late] == [7]
    assert [(x.incident_id, x.note) for x in d.open] == [(1, "剩余 50分")]
    assert [(x.incident_id, x.promise) for x in d.promises] == [(4, True)]
    assert d.counts == {"overdue": 2, "new": 3, "major": 1, "met": 1, "late": 1, "pending": 1, "promises": 1,
                        "triage": 4, "historical": 12}
    assert d.by_severity == [("特别重大", 0), ("重大", 1), ("较大", 1), ("一般", 1)]
    assert [name for name, _, _ in d.by_department] == ["区住房城乡建设局", "区应急局", "区生态环境分局"]
    assert d.places == [("马街街道", 1), ("碧鸡街道", 1)]  # the jurisdiction's own name is no place
    assert d.topics == [("环境保护", 2), ("城乡建设", 1)] and d.sensitive == [("安全生产", 2)]
    # the chart: 5 Dec had a late release and a missing interpretation (0 %), 6 Dec one on time and one missing
    by_day = {p.day.day: p for p in d.days}
    assert (by_day[5].rate, by_day[5].percent) == (Rate(0, 1, 1, 0), 0)
    assert (by_day[6].rate, by_day[6].percent) == (Rate(1, 0, 1, 0), 50)
    assert by_day[4].percent is None and [p.new for p in d.days] == [3, 0, 5, 2, 0, 1, 3]


def test_later_the_same_day_the_press_conference_counts_as_late_not_missing():
    """A digest of a later date sees the evidence recorded at 09:00 on the 7th: the deadline was met late."""
    data = sample(bj(8, 9))
    data.window = digest.window(date(2026, 12, 8), 8, 0, bj(8, 9))
    d = digest.build(data)
    assert [x.incident_id for x in d.late] == [8] and all(x.incident_id != 8 for x in d.overdue)


def test_subject_says_what_is_overdue_and_new():
    assert built().subject == "【舆情日报】12月7日：2项期限已超时，新增事件3起（重大及以上1起）"


# --------------------------------------------------------------------------- rendering
def test_text_part_matches_the_golden_file():
    check_golden("digest.txt", render.text(built()))


def test_html_part_matches_the_golden_file():
    check_golden("digest.html", render.html(built()))


def test_scraped_text_is_escaped_in_html_and_one_safe_line_in_text():
    d = built()
    html, text = render.html(d), render.text(d)
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&amp;amp;" in html  # the title's own "&amp;" is text, shown as written
    line = next(x for x in d.notable if x.incident_id == 2)
    assert line.title == "<script>alert(1)</script>碧鸡街道 工地坍塌 &amp;"  # no line break, no bidi override
    assert "\u202e" not in text and "碧鸡街道 工地坍塌" in text
    assert "<style" not in html and "stylesheet" not in html and "<script" not in html.lower().replace("&lt;script", "")


def test_preview_is_the_sent_html_with_the_chart_inlined():
    png = b"\x89PNG\r\n\x1a\nfake"
    r = render.render(built(), png)
    assert f'src="cid:{render.CHART_CID}"' in r.html
    preview = r.preview_html()
    assert "cid:" not in preview and 'src="data:image/png;base64,iVBORw0KGgpmYWtl"' in preview
    assert preview.replace('data:image/png;base64,iVBORw0KGgpmYWtl', f"cid:{render.CHART_CID}") == r.html


def test_links_point_to_each_incident_on_the_dashboard():
    html = render.html(built())
    for i in (1, 2, 3, 6, 8):
        assert f'href="https://yuqing.example.gov.cn/incidents/{i}"' in html


# --------------------------------------------------------------------------- the chart and its font
def test_the_font_has_a_glyph_for_every_character_the_chart_draws():
    font = find_font(chart.ALPHABET)
    days = built().days
    drawn = "".join(chart.labels(days))
    assert set(drawn) <= set(chart.ALPHABET) | {" "}
    assert missing_glyphs(font.path, font.index, drawn + chart.ALPHABET) == []


def test_chart_is_a_png_of_the_expected_size():
    from PIL import Image

    font = find_font(chart.ALPHABET)
    png = chart.draw(built().days, font.path, font.index)
    img = Image.open(io.BytesIO(png))
    assert img.format == "PNG" and img.size == (chart.WIDTH, chart.HEIGHT)
    # the bars are drawn: the bar colour covers a visible share of the picture
    import numpy as np

    pixels = np.asarray(img.convert("RGB")).reshape(-1, 3)
    assert int((pixels == (0x3B, 0x6F, 0xB6)).all(axis=1).sum()) > 5000


def test_chart_glyphs_are_real_not_boxes():
    """Drawn with the chosen font, no two label characters look alike: missing glyphs would all be one box."""
    from PIL import Image, ImageDraw, ImageFont

    font = find_font(chart.ALPHABET)
    f = ImageFont.truetype(font.path, 40, index=font.index)
    shapes = {}
    for ch in sorted(set(chart.ALPHABET) - set(" ")):
        img = Image.new("L", (48, 48))
        ImageDraw.Draw(img).text((4, 2), ch, font=f, fill=255)
        assert img.getbbox() is not None, ch
        shapes.setdefault(img.tobytes(), []).append(ch)
    assert [chars for chars in shapes.values() if len(chars) > 1] == []


def test_a_font_without_chinese_is_refused_with_a_chinese_message(tmp_path):
    latin = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
    if not latin.exists():  # the test needs any font without CJK glyphs: make the refusal from a non-font
        latin = tmp_path / "not-a-font.ttf"
        latin.write_bytes(b"not a font")
    with pytest.raises(FontMissing) as err:
        find_font(chart.ALPHABET, candidates=(str(latin),))
    assert "找不到含全部中文标签字形的字体" in str(err.value) and "fonts-wqy-microhei" in str(err.value)
    with pytest.raises(FontMissing, match="字体文件不存在"):
        find_font(chart.ALPHABET, configured=tmp_path / "nothing.ttc")
