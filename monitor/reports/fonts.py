"""The CJK font the chart's Chinese labels are drawn with, found explicitly: a mail client shows what the PNG
holds, so a font without those glyphs would send boxes (豆腐块) to a leader. A font counts only when its
character map covers every character the chart may draw; none found is an error that says what to install."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

# Debian/Ubuntu packages first (fonts-wqy-microhei is what .ci/system-deps installs), then other systems'.
CANDIDATES: tuple[str, ...] = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
    "/System/Library/Fonts/PingFang.ttc",
    "/System/Library/Fonts/STHeiti Medium.ttc",
    "C:/Windows/Fonts/msyh.ttc",
    "C:/Windows/Fonts/simhei.ttf",
)
INSTALL_HINT = ("请安装中文字体：Debian/Ubuntu 执行 apt-get install fonts-wqy-microhei（或 fonts-noto-cjk），"
                "或在配置 digest.font 中指定一个中文字体文件")


class FontMissing(Exception):
    """No usable CJK font: the message says, in Chinese first, what to install or configure."""


@dataclass(frozen=True)
class FontFile:
    path: str
    index: int  # the face in a collection (.ttc)
    name: str


def covers(path: str, index: int, text: str) -> bool:
    """Whether face `index` of the font file maps every character of `text` (whitespace aside) to a glyph."""
    return not missing_glyphs(path, index, text)


def missing_glyphs(path: str, index: int, text: str) -> list[str]:
    cmap = _cmap(path, index)
    return sorted({ch for ch in text if not ch.isspace() and ord(ch) not in cmap})


@lru_cache(maxsize=16)
def _cmap(path: str, index: int) -> frozenset[int]:
    from fontTools.ttLib import TTFont

    font = TTFont(path, fontNumber=index, lazy=True)
    try:
        return frozenset(font.getBestCmap() or {})
    finally:
        font.close()


def _faces(path: str) -> list[tuple[int, str]]:
    """(index, family name) of each face; for a collection, Simplified Chinese faces first."""
    from fontTools.ttLib import TTCollection, TTFont

    if path.lower().endswith((".ttc", ".otc")):
        collection = TTCollection(path, lazy=True)
        try:
            names = [str(f["name"].getBestFamilyName() or "") for f in collection.fonts]
        finally:
            collection.close()
    else:
        font = TTFont(path, lazy=True)
        try:
            names = [str(font["name"].getBestFamilyName() or "")]
        finally:
            font.close()
    faces = list(enumerate(names))
    return sorted(faces, key=lambda f: (not f[1].rstrip().endswith((" SC", " CN", "GB", "Hans")), f[0]))


def find_font(text: str, configured: str | Path | None = None,
              candidates: tuple[str, ...] = CANDIDATES) -> FontFile:
    """The configured font file if it covers `text`, else the first installed candidate that does."""
    tried: list[str] = []
    paths = [str(configured)] if configured else list(candidates)
    for path in paths:
        if not Path(path).is_file():
            if configured:
                raise FontMissing(f"字体文件不存在：{path}（digest.font）；{INSTALL_HINT} (font file not found)")
            continue
        try:
            faces = _faces(path)
        except Exception as exc:  # not a font fontTools can read
            tried.append(f"{path}（无法读取：{type(exc).__name__}）")
            continue
        for index, name in faces:
            lacking = missing_glyphs(path, index, text)
            if not lacking:
                return FontFile(path, index, name)
            tried.append(f"{path}#{index} {name}（缺少“{''.join(lacking[:10])}”等字形）")
    detail = "；已检查：" + "，".join(tried) if tried else ""
    raise FontMissing(f"找不到含全部中文标签字形的字体{detail}。{INSTALL_HINT} (no CJK font with every label "
                      "glyph found: install fonts-wqy-microhei or fonts-noto-cjk, or set digest.font)")
