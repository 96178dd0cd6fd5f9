"""yuqing check-config PATH"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from monitor.cli.common import InputError
from monitor.understanding.jurisdiction import load_jurisdiction
from monitor.config.settings import (BUNDLED_CONFIG, ConfigError, legal_gaps, line_for, load_calendar,
                                     load_settings, read_yaml)


def register(sub) -> None:
    p = sub.add_parser("check-config", help="检查配置文件 / validate a config file",
                       description="检查配置文件及其引用的辖区、节假日文件。出错时列出 文件:行号: 键: 原因，退出码 2。"
                       "缺少或弱于法定期限（5小时、24小时、3个工作日）的规则给出警告，退出码仍为 0。\n"
                       "Validate a config file and the files it names; errors give file:line: key: reason, exit 2. "
                       "Rules that drop or weaken a legal deadline (5 h, 24 h, 3 working days) are warned about "
                       "(exit 0).")
    p.add_argument("path", help="配置文件 / config file")
    p.set_defaults(func=check_config)

    p = sub.add_parser("export-config", help="复制内置的辖区、词典和演示配置以便修改 / copy the bundled data to edit it",
                       description="把内置的辖区分办表、词典和演示配置复制到 DIR（不覆盖已有文件），在配置中用相对路径引用。\n"
                       "Copy the bundled jurisdictions, lexicons and demo config into DIR (existing files are kept).")
    p.add_argument("dir", help="目标目录 / target folder")
    p.set_defaults(func=export_config)


def export_config(args) -> int:
    target = Path(args.dir)
    copied = 0
    for src in sorted(BUNDLED_CONFIG.rglob("*")):
        rel = src.relative_to(BUNDLED_CONFIG)
        if src.is_dir() or rel.parts[0] == "demo" or "__pycache__" in rel.parts:
            continue
        dest = target / rel
        if dest.exists():
            continue
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dest)
        except OSError as exc:
            where = exc.filename or dest
            raise InputError(f"无法写入 {where}：{exc.strerror or exc}；请换一个可写的目录 "
                             f"(cannot write there: choose a folder you may write to)") from None
        copied += 1
    print(f"已复制 {copied} 个文件到 {target} (copied {copied} files; existing ones kept)")
    return 0


def check_config(args) -> int:
    settings = load_settings(args.path)
    if settings.database:
        from monitor.store.db import DatabaseURLError, check_url

        try:
            check_url(settings.database)
        except DatabaseURLError as exc:
            _, lines = read_yaml(Path(args.path))
            raise ConfigError([f"{args.path}:{line_for(lines, ('database',))}: database: {exc}"]) from None
    jurisdiction = load_jurisdiction(settings.jurisdiction_path)
    calendar = load_calendar(settings)
    missing = sorted({name for name in _secret_envs(settings) if not os.environ.get(name)})
    print(f"配置有效 (config OK): {args.path}")
    print(f"  辖区 jurisdiction: {jurisdiction.name}（{len(jurisdiction.departments)} 个部门 departments）")
    print(f"  来源 sources: {len(settings.sources)}  规则 rules: {len(settings.rules)}  "
          f"升级策略 policies: {len(settings.escalation_policies)}  渠道 channels: {len(settings.channels)}")
    if settings.legal_defaults:
        print("  规则 rules: 未配置，使用内置法定规则（5小时权威信息、24小时新闻发布会、3个工作日政策解读）"
              " (no rules: in the config, the built-in legal rules apply: 5 h / 24 h / 3 working days)")
    if settings.default_policies:
        names = ", ".join(settings.default_policies)
        print(f"  升级策略 policies: 使用内置默认 {names} (built-in default policies: {names})")
    print(f"  工作日历年份 calendar years: {min(calendar.years)}–{max(calendar.years)}")
    for name in missing:
        print(f"  提示 (note): 环境变量 {name} 未设置 (environment variable not set)")
    for line in legal_warnings(settings, args.path):
        print(line)
    for line in roster_warnings(settings, args.path):
        print(line)
    return 0


def roster_warnings(settings, path, now=None) -> list[str]:
    """One line per role that reminders go to and that nobody holds for some of the next 7 days, by the config's
    roster and standing roles (shifts added on the dashboard live in the store; `serve` logs the full picture)."""
    from monitor.core.clock import SystemClock
    from monitor.deadlines.coverage import config_gaps

    found = config_gaps(settings, now or SystemClock().now())
    if not found:
        return []
    _, lines = read_yaml(Path(path))
    return [f"{path}:{line_for(lines, ('roster',))}: roster: {gap.text()}" for gap in found]


def legal_warnings(settings, path) -> list[str]:
    """One line per legal rule (docs/design.md §1) that the config's own rules drop or weaken: Chinese first,
    English after, naming the file and line. Warnings only: a deliberate local choice stays possible."""
    if settings.legal_defaults:
        return []
    gaps = legal_gaps(settings.rules)
    if not gaps:
        return []
    _, lines = read_yaml(Path(path))
    out = []
    for gap in gaps:
        where = ("rules",) if gap.index is None else ("rules", gap.index)
        key = "rules" if gap.index is None else f"rules[{gap.index}]"
        out.append(f"{path}:{line_for(lines, where)}: {key}: 警告：{gap.zh} / warning: {gap.en}")
    return out


def _secret_envs(settings):
    for s in settings.sources:
        if getattr(s, "secret_env", None):
            yield s.secret_env
    for c in settings.channels:
        for name in (c.secret_env, c.token_env):
            if name:
                yield name
