import subprocess
import sys
from pathlib import Path

import pytest

from monitor.config.settings import ConfigError, database_url, load_settings
from tests.conftest import ROOT

EXAMPLE = ROOT / "config" / "yuqing.example.yaml"


def broken(tmp_path: Path, old: str, new: str) -> Path:
    text = EXAMPLE.read_text(encoding="utf-8")
    assert old in text, old
    path = tmp_path / "yuqing.yaml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    # keep relative references (holidays/) resolvable
    for sub in ("holidays",):
        (tmp_path / sub).symlink_to(ROOT / "config" / sub)
    return path


def line_of(path: Path, needle: str) -> int:
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if needle in line:
            return n
    raise AssertionError(needle)


def test_example_config_is_valid():
    s = load_settings(EXAMPLE)
    assert [r.name for r in s.rules] == ["authoritative_release", "press_conference", "policy_interpretation"]
    assert str(s.rules[0].due) == "5h" and str(s.rules[2].due) == "3wd"
    assert s.escalation_policies["major_incident"][3].repeat is not None
    assert s.roster[0].from_.tzinfo is not None and s.roster[0].from_.utcoffset().total_seconds() == 0


def test_bad_duration_names_file_line_and_key(tmp_path):
    path = broken(tmp_path, "interval: 5m ", 'interval: "5 hours" ')
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    [line] = info.value.lines
    assert line == (f'{path}:{line_of(path, "5 hours")}: sources[0].interval: '
                    '"5 hours" is not a duration (use 90s, 15m, 5h, 3d, 3wd)')


def test_unknown_key_suggests_the_right_one(tmp_path):
    path = broken(tmp_path, "    due: 24h", "    deu: 24h")
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    text = "\n".join(info.value.lines)
    assert f"{path}:{line_of(path, 'deu: 24h')}: rules[1].deu: unknown key (did you mean \"due\"?)" in text
    assert "rules[1].due: required key is missing" in text


def test_wrong_type_and_unknown_kind(tmp_path):
    path = broken(tmp_path, "    kind: hotline_export\n", "    kind: hotline_exprt\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert "sources[0]: unknown kind 'hotline_exprt'" in info.value.lines[0]
    path2 = tmp_path / "b.yaml"
    path2.write_text("classifier:\n  min_confidence: high\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_settings(path2)
    assert info.value.lines[0].startswith(f"{path2}:2: classifier.min_confidence: ")


def test_broken_references_are_reported_with_lines(tmp_path):
    path = broken(tmp_path, "escalation: routine", "escalation: routin")
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert info.value.lines == [
        f'{path}:{line_of(path, "escalation: routin")}: rules[2].escalation: no escalation policy named '
        '"routin" (did you mean "routine"?)'
    ]


def test_yaml_syntax_error_has_a_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("sources:\n  - name: a\n    kind: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert info.value.lines[0].startswith(f"{path}:") and "YAML syntax error" in info.value.lines[0]


def test_roster_needs_order(tmp_path):
    path = broken(tmp_path, 'to: "2026-11-23T20:00+08:00"}', 'to: "2026-11-23T07:00+08:00"}')
    with pytest.raises(ConfigError, match=r"roster\[0\]: to must be later than from"):
        load_settings(path)


def test_database_url_precedence(monkeypatch):
    s = load_settings(EXAMPLE)
    monkeypatch.delenv("YUQING_DATABASE", raising=False)
    assert database_url(s) == "sqlite:///yuqing.db"
    monkeypatch.setenv("YUQING_DATABASE", "postgresql://x@h/db")
    assert database_url(s) == "postgresql://x@h/db"
    assert database_url(s, "sqlite:///other.db") == "sqlite:///other.db"


def test_check_config_cli_exit_codes(tmp_path):
    ok = subprocess.run([sys.executable, "-m", "monitor", "check-config", str(EXAMPLE)],
                        capture_output=True, text=True, cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert "配置有效" in ok.stdout
    path = broken(tmp_path, "    due: 5h", "    due: 5 hours")
    bad = subprocess.run([sys.executable, "-m", "monitor", "check-config", str(path)],
                         capture_output=True, text=True, cwd=tmp_path)
    assert bad.returncode == 2
    assert f"{path}:{line_of(path, 'due: 5 hours')}: rules[0].due:" in bad.stderr
    missing = subprocess.run([sys.executable, "-m", "monitor", "check-config", str(tmp_path / "nope.yaml")],
                             capture_output=True, text=True, cwd=tmp_path)
    assert missing.returncode == 2 and "nope.yaml" in missing.stderr


def test_holiday_supplement_is_validated(tmp_path):
    from monitor.config.settings import load_calendar

    (tmp_path / "2027.yaml").write_text(
        "year: 2027\nholidays:\n  - 2027-01-01\n  - {from: 2027-02-06, to: 2027-02-12, name: 春节}\n"
        "workdays: [2027-02-14]\n", encoding="utf-8")
    (tmp_path / "c.yaml").write_text("holidays: [2027.yaml]\n", encoding="utf-8")
    cal = load_calendar(load_settings(tmp_path / "c.yaml"))
    from datetime import date

    assert not cal.is_workday(date(2027, 2, 8)) and cal.is_workday(date(2027, 2, 14))
    (tmp_path / "2027.yaml").write_text("year: 2027\nholidays: [2028-01-01]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="2028-01-01 is not in 2027"):
        load_calendar(load_settings(tmp_path / "c.yaml"))
