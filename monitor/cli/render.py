"""Terminal output for people: Chinese tables (rich handles the width of CJK characters)."""

from __future__ import annotations

from datetime import datetime

from rich.console import Console
from rich.table import Table

from monitor.core.clock import fmt_delta, fmt_local
from monitor.core.model import Severity

import sys



class _Console(Console):
    def on_broken_pipe(self) -> None:
        """The reader went away (`yuqing deadlines | head -1`): rich would exit 1, which means an internal
        error here; monitor.cli.main ends every command quietly with the shell's code for it instead."""
        self.quiet = True
        raise BrokenPipeError


# Pipes and CI logs get 120 columns rather than rich's 80, so Chinese tables stay on one line per row.
console = _Console(highlight=False, width=None if sys.stdout.isatty() else 120)


def print_import_summary(stats) -> None:
    t = Table(title="导入结果 Import", show_header=True)
    for col in ("读取 read", "新增 inserted", "更新 updated", "重复 duplicates", "隔离 quarantined",
                "新事件 incidents", "用时 seconds"):
        t.add_column(col, justify="right")
    t.add_row(*(str(x) for x in (stats.read, stats.inserted, stats.updated, stats.duplicates,
                                 stats.quarantined, stats.incidents, f"{stats.seconds:.2f}")))
    console.print(t)
    if stats.empty:
        console.print(f"跳过空行 {stats.empty} 行 (empty rows skipped, not stored)")
    if stats.quarantined:
        console.print(f"[yellow]{stats.quarantined} 行已隔离，查看：yuqing quarantine[/yellow]")


def counts_table(title: str, rows: list[tuple[str, int]], key: str) -> Table:
    t = Table(title=title)
    t.add_column(key)
    t.add_column("事件数 incidents", justify="right")
    for k, n in rows:
        t.add_row(str(k), str(n))
    return t


def deadlines_table(rows: list[tuple], now: datetime, title: str = "未关闭期限 Open deadlines") -> Table:
    """rows: (deadline, incident) pairs."""
    t = Table(title=title)
    for col in ("事件", "等级", "责任单位", "期限", "到期（北京时间）", "剩余"):
        t.add_column(col, no_wrap=col != "事件")
    for d, inc in rows:
        left = d.due_at - now
        style = "red" if left.total_seconds() <= 0 else ("yellow" if left.total_seconds() < 7200 else "")
        due = fmt_local(d.due_at) + ("（暂定）" if d.provisional_year else "")
        t.add_row(f"#{inc.id} {inc.title[:20]}", Severity(inc.severity).zh, d.department, d.title,
                  due, fmt_delta(left), style=style)
    return t
