"""The law is the default (issue 15): a config that names no `rules:` — or no config at all — gets the 5 h,
24 h and 3-working-day rules and escalation policies to remind someone; a config that names its own rules
keeps exactly them, and `check-config` warns about every legal rule they drop or weaken."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from monitor.config.settings import (DEFAULT_ESCALATION_POLICIES, LEGAL_RULES, Settings, legal_gaps,
                                     load_settings)
from monitor.core.clock import SHANGHAI
from monitor.core.model import RawItem, Severity
from tests.test_cli import yuqing

LEGAL = ["authoritative_release", "press_conference", "policy_interpretation"]
WEBHOOK_ONLY = "sources:\n  - {name: push, kind: webhook, secret_env: YUQING_WEBHOOK_SECRET}\n"
CUSTOM_ONLY = ("rules:\n"
               "  - {name: env_reply, title: 环境投诉3日内答复, applies_to: {domains: [环境保护]}, due: 3d, "
               "satisfied_by: reply}\n")


def write(tmp_path: Path, text: str, name: str = "yuqing.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def describe(rule) -> tuple:
    a = rule.applies_to
    return (rule.name, rule.title, a.severity_at_least, a.kind, a.domains, str(rule.due), rule.satisfied_by,
            rule.escalation)


# --------------------------------------------------------------------------- settings
def test_the_built_in_rules_are_the_demo_configs():
    """Same names, titles, conditions, durations and evidence as the bundled demo.yaml (and the law)."""
    from monitor.config.settings import BUNDLED_CONFIG

    demo = load_settings(BUNDLED_CONFIG / "demo.yaml")
    assert [describe(r) for r in LEGAL_RULES] == [describe(r) for r in demo.rules]
    assert [describe(r) for r in LEGAL_RULES] == [
        ("authoritative_release", "5小时内发布权威信息", Severity.MAJOR, None, None, "5h", "release", "major_incident"),
        ("press_conference", "24小时内举行新闻发布会", Severity.MAJOR, None, None, "24h", "press_conference",
         "major_incident"),
        ("policy_interpretation", "3个工作日内发布政策解读", None, "policy", None, "3wd", "interpretation", "routine"),
    ]
    for name, steps in DEFAULT_ESCALATION_POLICIES.items():
        assert [s.model_dump() for s in steps] == [s.model_dump() for s in demo.escalation_policies[name]]


def test_no_config_gets_the_law():
    s = load_settings(None)
    assert [r.name for r in s.rules] == LEGAL and s.legal_defaults
    assert set(s.escalation_policies) == {"major_incident", "routine"}
    assert s.default_policies == ("major_incident", "routine")
    assert [str(step.at) for step in s.escalation_policies["major_incident"]] == ["-2h", "-30m", "0s", "1h"]
    assert str(s.escalation_policies["major_incident"][3].repeat) == "1h"
    assert [(str(step.at), step.notify) for step in s.escalation_policies["routine"]] == [
        ("-1wd", ["responsible"]), ("0s", ["responsible", "duty_officer"])]


def test_a_webhook_only_config_gets_the_law(tmp_path):
    s = load_settings(write(tmp_path, WEBHOOK_ONLY))
    assert [r.name for r in s.rules] == LEGAL and s.legal_defaults
    assert set(s.escalation_policies) == {"major_incident", "routine"}


def test_rules_key_with_nothing_under_it_is_no_rules_named(tmp_path):
    s = load_settings(write(tmp_path, WEBHOOK_ONLY + "rules:\n#  - {name: x, due: 1h, satisfied_by: reply}\n"))
    assert [r.name for r in s.rules] == LEGAL and s.legal_defaults


def test_a_config_with_only_a_custom_rule_keeps_exactly_it(tmp_path):
    s = load_settings(write(tmp_path, CUSTOM_ONLY))
    assert [r.name for r in s.rules] == ["env_reply"] and not s.legal_defaults
    assert set(s.escalation_policies) == {"major_incident", "routine"}  # nothing of its own: the built-in ones


def test_an_explicit_empty_list_means_no_rules(tmp_path):
    s = load_settings(write(tmp_path, "rules: []\n"))
    assert s.rules == [] and not s.legal_defaults


def test_own_policies_are_kept_and_only_missing_names_are_added(tmp_path):
    s = load_settings(write(tmp_path, WEBHOOK_ONLY + (
        "escalation_policies:\n"
        "  major_incident:\n"
        "    - {at: \"-1h\", notify: [duty_officer]}\n"
        "  quiet:\n"
        "    - {at: \"0s\", notify: [duty_officer]}\n")))
    assert [str(step.at) for step in s.escalation_policies["major_incident"]] == ["-1h"]
    assert set(s.escalation_policies) == {"major_incident", "quiet", "routine"}
    assert s.default_policies == ("routine",)


def test_a_rule_may_name_a_built_in_policy_and_a_typo_still_fails(tmp_path):
    from monitor.config.settings import ConfigError

    ok = load_settings(write(tmp_path, "rules:\n  - {name: quick, due: 2h, satisfied_by: reply, escalation: routine}\n"))
    assert ok.rules[0].escalation == "routine" and "routine" in ok.escalation_policies
    with pytest.raises(ConfigError, match='no escalation policy named "routin" \\(did you mean "routine"\\?\\)'):
        load_settings(write(tmp_path, "rules:\n  - {name: quick, due: 2h, satisfied_by: reply, escalation: routin}\n",
                            "typo.yaml"))


def test_defaults_are_copies():
    a, b = Settings(), Settings()
    a.rules.pop()
    a.escalation_policies["routine"].pop()
    assert len(b.rules) == 3 and len(b.escalation_policies["routine"]) == 2 and len(LEGAL_RULES) == 3


# --------------------------------------------------------------------------- what falls short of the law
def rules(*items: dict):
    return Settings.model_validate({"rules": list(items)}).rules


FULL = [
    {"name": "authoritative_release", "applies_to": {"severity_at_least": "重大"}, "due": "5h", "satisfied_by": "release"},
    {"name": "press_conference", "applies_to": {"severity_at_least": "重大"}, "due": "24h",
     "satisfied_by": "press_conference"},
    {"name": "policy_interpretation", "applies_to": {"kind": "policy"}, "due": "3wd", "satisfied_by": "interpretation"},
]


def with_(index: int, **change) -> list[dict]:
    out = [dict(r) for r in FULL]
    out[index] = {**out[index], **change}
    return out


@pytest.mark.parametrize("items,expected", [
    (FULL, []),
    ([], [("authoritative_release", None), ("press_conference", None), ("policy_interpretation", None)]),
    (FULL[1:], [("authoritative_release", None)]),
    (FULL[:2], [("policy_interpretation", None)]),
    # stricter than the law is fine: sooner, or applying from 较大, or to everything
    (with_(0, due="2h", applies_to={"severity_at_least": "较大"}), []),
    (with_(1, applies_to={}), []),
    (with_(2, due="2wd"), []),
    (with_(2, due="3d"), []),  # three calendar days never end after three working days
    # weaker: longer, only above 重大, only some domains, the wrong kind
    (with_(0, due="6h"), [("authoritative_release", 0)]),
    (with_(0, due="1wd"), [("authoritative_release", 0)]),
    (with_(1, due="2d"), [("press_conference", 1)]),
    (with_(1, applies_to={"severity_at_least": "特别重大"}), [("press_conference", 1)]),
    (with_(0, applies_to={"severity_at_least": "重大", "domains": ["安全生产"]}), [("authoritative_release", 0)]),
    (with_(0, applies_to={"severity_at_least": "重大", "kind": "policy"}), [("authoritative_release", 0)]),
    (with_(2, due="5wd"), [("policy_interpretation", 2)]),
    (with_(2, due="4d"), [("policy_interpretation", 2)]),
    (with_(2, applies_to={"kind": "incident"}), [("policy_interpretation", 2)]),
    (with_(2, applies_to={"kind": "policy", "severity_at_least": "较大"}), [("policy_interpretation", 2)]),
    # another name that closes with the same evidence stands for the legal rule
    (with_(0, name="release_within_5h"), []),
    # a weak rule next to one that meets the law: the law is met
    (FULL + [{"name": "late_release", "due": "48h", "satisfied_by": "release"}], []),
])
def test_legal_gaps(items, expected):
    assert [(g.rule, g.index) for g in legal_gaps(rules(*items))] == expected


def test_gap_messages_say_what_is_weaker():
    [gap] = legal_gaps(rules(*with_(1, due="48h", applies_to={"severity_at_least": "特别重大"})))
    assert "48小时 长于法定 24小时" in gap.zh and "特别重大" in gap.zh
    assert "48h is longer than the law's 24h" in gap.en and "特别重大" in gap.en


# --------------------------------------------------------------------------- check-config
def warnings(out: str) -> list[str]:
    """The legal-rule warnings (the roster's gap warnings are tested in tests/test_office_pages.py)."""
    return [line for line in out.splitlines() if "警告" in line and ": roster: " not in line]


def test_check_config_without_rules_says_the_law_applies(tmp_path):
    path = write(tmp_path, WEBHOOK_ONLY)
    r = yuqing("check-config", str(path), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "规则 rules: 3" in r.stdout and "法定规则" in r.stdout and "legal rules apply" in r.stdout
    assert "major_incident" in r.stdout and warnings(r.stdout) == []


def test_check_config_warns_for_each_dropped_legal_rule(tmp_path):
    path = write(tmp_path, CUSTOM_ONLY)
    r = yuqing("check-config", str(path), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    lines = warnings(r.stdout)
    assert len(lines) == 3
    for line, name in zip(lines, LEGAL):
        assert line.startswith(f"{path}:1: rules: 警告：") and name in line
        assert line.index("警告") < line.index("warning:")  # Chinese first, English after
    assert "5小时内发布权威信息" in lines[0] and "3个工作日内发布政策解读" in lines[2]


def test_check_config_warns_for_weakened_rules_naming_their_lines(tmp_path):
    path = write(tmp_path, (
        "rules:\n"
        "  - {name: authoritative_release, applies_to: {severity_at_least: 重大}, due: 6h, satisfied_by: release}\n"
        "  - {name: press_conference, applies_to: {severity_at_least: 特别重大}, due: 24h, "
        "satisfied_by: press_conference}\n"
        "  - {name: policy_interpretation, applies_to: {kind: policy}, due: 5wd, satisfied_by: interpretation}\n"))
    r = yuqing("check-config", str(path), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    lines = warnings(r.stdout)
    assert [line.split(": 警告")[0] for line in lines] == [f"{path}:2: rules[0]", f"{path}:3: rules[1]",
                                                           f"{path}:4: rules[2]"]
    assert "6小时 长于法定 5小时" in lines[0] and "due 6h is longer than the law's 5h" in lines[0]
    assert "只适用于特别重大及以上" in lines[1] and "applies only from 特别重大" in lines[1]
    assert "5个工作日 长于法定 3个工作日" in lines[2]


def test_check_config_of_the_example_has_no_warning(tmp_path):
    from tests.conftest import ROOT

    r = yuqing("check-config", str(ROOT / "config" / "yuqing.example.yaml"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert warnings(r.stdout) == [] and "法定规则" not in r.stdout


# --------------------------------------------------------------------------- the defaults reach the deadlines
def test_import_without_rules_opens_the_5h_and_24h_deadlines(tmp_path):
    """`yuqing --config webhook-only.yaml import` of a 重大 incident: both legal deadlines open, counted from
    the report's time, on the responsible department; a policy notice opens its interpretation deadline."""
    config = write(tmp_path, WEBHOOK_ONLY)
    seen = datetime.now(SHANGHAI).replace(microsecond=0) - timedelta(minutes=10)
    source = tmp_path / "reports.jsonl"
    source.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in [
        {"id": "1", "title": "马街街道化工厂爆炸", "body": "马街街道一化工厂发生爆炸，造成12人死亡，多人受伤",
         "time": seen.isoformat()},
        {"id": "2", "title": "西山区民政局关于调整最低生活保障标准的通知",
         "body": "西民发〔2026〕9号 各街道办事处：现将调整城乡最低生活保障标准有关事项通知如下。", "time": seen.isoformat()},
        {"id": "3", "title": "投诉物业不执行《物业管理条例》", "body": "小区物业不按条例公示收费", "time": seen.isoformat()},
    ]) + "\n", encoding="utf-8")
    db = f"sqlite:///{tmp_path / 'y.db'}"
    r = yuqing("--config", str(config), "--db", db, "import", str(source), "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    r = yuqing("--config", str(config), "--db", db, "deadlines", "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    rows = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    by_rule = {row["rule"]: row for row in rows}
    assert sorted(by_rule) == sorted(LEGAL) and len(rows) == 3  # nothing for the complaint
    assert all(row["state"] == "open" for row in rows)
    release = datetime.fromisoformat(by_rule["authoritative_release"]["due_at"])
    press = datetime.fromisoformat(by_rule["press_conference"]["due_at"])
    assert release == seen + timedelta(hours=5) and press == seen + timedelta(hours=24)
    assert by_rule["authoritative_release"]["incident_id"] == by_rule["press_conference"]["incident_id"]
    assert by_rule["policy_interpretation"]["incident_id"] != by_rule["press_conference"]["incident_id"]


async def test_no_config_deadlines_escalate_to_the_dashboard(tmp_path, clock):
    """No config at all (Settings()): the 重大 incident gets both deadlines with the built-in major_incident
    policy, and its first reminder (-2h, responsible) finds nobody, so it lands on the dashboard."""
    from monitor.app import build

    seen = datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI)
    clock.set(seen)
    app = await build(Settings(), f"sqlite:///{tmp_path / 't.db'}", clock)
    try:
        stats = await app.pipeline.ingest([RawItem("hotline", "1", "化工厂爆炸", "马街街道化工厂爆炸造成12人死亡",
                                                   occurred_at=seen)], "hotline")
        assert stats.deadlines == 2
        async with app.store.read() as tx:
            [incident] = await tx.incidents.list()
            deadlines = await tx.deadlines.for_incident(incident.id)
        assert {(d.rule, d.due_at, d.policy) for d in deadlines} == {
            ("authoritative_release", seen + timedelta(hours=5), "major_incident"),
            ("press_conference", seen + timedelta(hours=24), "major_incident")}
        clock.set(seen + timedelta(hours=3))  # 2 h before the 5 h deadline
        assert await app.escalator.sweep() == 1
        async with app.store.read() as tx:
            [message] = await tx.outbox.list()
        assert message.key.startswith(f"{incident.id}:authoritative_release:0:") and message.channel == "dashboard"
    finally:
        await app.close()
