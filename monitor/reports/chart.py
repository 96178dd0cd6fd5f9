"""The digest's chart of the last seven days — new incidents as bars, the on-time rate as a line — drawn as a PNG
with Pillow (mail clients block SVG and scripts, so the mail carries a picture, referenced by cid:).

Drawn at twice the size it is shown, so it stays sharp on a phone. Every string it draws comes from `labels`,
so a test can check that the font has a glyph for each character (fonts.missing_glyphs)."""

from __future__ import annotations

import io
from typing import Sequence

from monitor.reports.digest import WEEKDAYS, DayPoint

TITLE = "近7日新增事件与按时率"
LEGEND_NEW = "新增事件（起）"
LEGEND_RATE = "按时率"
NOTE = "按时率：当日到期期限中按时完成的比例"
# Every character the chart can draw: fonts.find_font checks the font against it before drawing.
ALPHABET = TITLE + LEGEND_NEW + LEGEND_RATE + NOTE + "周" + WEEKDAYS + "0123456789%-—"

WIDTH, HEIGHT = 900, 640
_BAR, _LINE, _GRID, _INK, _MUTED = "#3b6fb6", "#d9480f", "#e5e7eb", "#111827", "#6b7280"


def labels(days: Sequence[DayPoint]) -> list[str]:
    """Every string `draw` puts on the picture for these days."""
    top = _nice_top(max((d.new for d in days), default=0))
    out = [TITLE, LEGEND_NEW, LEGEND_RATE, NOTE, "0%", "50%", "100%"]
    out += [str(top * i // 4) for i in range(5)]
    for d in days:
        out += [d.label, d.weekday, str(d.new)] + ([f"{d.percent}%"] if d.percent is not None else [])
    return out


def _nice_top(n: int) -> int:
    """The left axis' top: four round steps (1, 2, 5, 10, 20, 25, 50 … each) reaching the largest bar."""
    for k in range(12):
        for m in (1, 2, 5) if k == 0 else (1, 2, 2.5, 5):
            step = int(m * 10 ** k)
            if step == m * 10 ** k and 4 * step >= n:
                return 4 * step
    return 4 * (n // 4 + 1)  # pragma: no cover (beyond 10^12 a day)


def draw(days: Sequence[DayPoint], font_path: str, font_index: int = 0) -> bytes:
    from PIL import Image, ImageDraw, ImageFont

    def font(size: int):
        return ImageFont.truetype(font_path, size, index=font_index)

    # Shown about 370 px wide on a phone: these sizes stay readable there (≈ 12–16 px).
    title_f, text_f, small_f = font(40), font(32), font(28)
    img = Image.new("RGB", (WIDTH, HEIGHT), "white")
    g = ImageDraw.Draw(img)
    left, right, top, bottom = 70, WIDTH - 80, 150, HEIGHT - 150
    g.text((20, 20), TITLE, font=title_f, fill=_INK)
    # legend
    g.rectangle((20, 92, 52, 120), fill=_BAR)
    g.text((62, 106), LEGEND_NEW, font=small_f, fill=_INK, anchor="lm")
    lx2 = 330
    g.line((lx2, 106, lx2 + 40, 106), fill=_LINE, width=6)
    g.ellipse((lx2 + 11, 97, lx2 + 29, 115), fill=_LINE)
    g.text((lx2 + 52, 106), LEGEND_RATE, font=small_f, fill=_INK, anchor="lm")

    peak = _nice_top(max((d.new for d in days), default=0))
    height = bottom - top
    for i in range(5):  # grid and both axes' ticks
        y = bottom - height * i / 4
        g.line((left, y, right, y), fill=_GRID, width=2)
        g.text((left - 10, y), str(peak * i // 4), font=small_f, fill=_MUTED, anchor="rm")
        if i % 2 == 0:
            g.text((right + 8, y), f"{50 * i // 2}%", font=small_f, fill=_MUTED, anchor="lm")
    g.line((left, bottom, right, bottom), fill=_MUTED, width=2)

    n = max(1, len(days))
    slot = (right - left) / n
    points: list[tuple[float, float, int] | None] = []
    for i, d in enumerate(days):
        cx = left + slot * (i + 0.5)
        bar_h = height * d.new / peak
        half = slot * 0.28
        if d.new:
            g.rectangle((cx - half, bottom - bar_h, cx + half, bottom), fill=_BAR)
        g.text((cx, bottom - bar_h - 8), str(d.new), font=small_f, fill=_BAR, anchor="ms")
        g.text((cx, bottom + 12), d.label, font=text_f, fill=_INK, anchor="mt")
        g.text((cx, bottom + 52), d.weekday, font=small_f, fill=_MUTED, anchor="mt")
        if d.percent is None:
            points.append(None)
        else:
            points.append((cx, bottom - height * d.percent / 100, d.percent))
    for a, b in zip(points, points[1:]):
        if a is not None and b is not None:
            g.line((a[0], a[1], b[0], b[1]), fill=_LINE, width=5)
    for p in points:
        if p is not None:
            x, y, pct = p
            g.ellipse((x - 11, y - 11, x + 11, y + 11), fill=_LINE, outline="white", width=3)
            label_y = y - 18 if y > top + 36 else y + 18
            g.text((x, label_y), f"{pct}%", font=small_f, fill=_LINE, anchor="ms" if label_y < y else "mt",
                   stroke_width=4, stroke_fill="white")  # a halo: readable over a bar or the line
    g.text((20, HEIGHT - 30), NOTE, font=small_f, fill=_MUTED, anchor="lm")
    out = io.BytesIO()
    img.save(out, format="PNG", optimize=True)
    return out.getvalue()
