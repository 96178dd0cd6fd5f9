"""The digest in words and pictures (pure): the text part, the HTML part (jinja2, autoescaped: titles are scraped
text) and the chart, which the HTML references by `cid:`. The preview is the same HTML with the picture inlined
as a data URI, and nothing else changed."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from monitor.reports.digest import Digest

TEMPLATES = Path(__file__).parent / "templates"
CHART_CID = "chart-7d@yuqing-sentinel"

_env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]),
                   undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)


@dataclass(frozen=True)
class Image:
    cid: str
    data: bytes
    filename: str
    subtype: str = "png"


@dataclass
class Rendered:
    subject: str
    text: str
    html: str  # images referenced as cid:
    images: list[Image] = field(default_factory=list)
    summary: str = ""  # one line for the dashboard's list of sent messages

    def preview_html(self) -> str:
        """The HTML that is sent, each cid: image inlined as a data URI (a browser has no mail parts)."""
        html = self.html
        for image in self.images:
            uri = f"data:image/{image.subtype};base64,{base64.b64encode(image.data).decode('ascii')}"
            html = html.replace(f'src="cid:{image.cid}"', f'src="{uri}"')
        return html


def text(digest: Digest) -> str:
    out = _env.get_template("digest.txt").render(d=digest)
    return re.sub(r"\n{3,}", "\n\n", out)


def html(digest: Digest, chart_src: str = f"cid:{CHART_CID}") -> str:
    return _env.get_template("digest.html").render(d=digest, chart_src=chart_src)


def render(digest: Digest, chart_png: bytes) -> Rendered:
    c = digest.counts
    summary = (f"{digest.subject}（进行中 {c['pending']}，承诺 {c['promises']}，待研判 {c['triage']}）")
    return Rendered(digest.subject, text(digest), html(digest),
                    [Image(CHART_CID, chart_png, f"近7日-{digest.day.isoformat()}.png")], summary)
