"""Heat (pure): reporters, growth within a window ending at an injected `now`, likes → a capped raise."""

from datetime import datetime, timedelta, timezone

import pytest

from monitor.understanding.heat import HeatPolicy, HeatSignals, adjust, signals
from monitor.core.model import Severity as S
from monitor.config.settings import BUNDLED_CONFIG

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)


def test_growth_counts_items_within_the_window_only():
    times = [NOW - timedelta(minutes=m) for m in (1, 10, 59, 61, 300)] + [NOW + timedelta(minutes=5), None]
    s = signals(item_count=7, reporter_count=3, likes=0, item_times=times, now=NOW)
    assert s.recent_items == 3


@pytest.mark.parametrize(
    "heat,areas,start,level",
    [
        (HeatSignals(1, 1, 0, 0), [], S.GENERAL, S.GENERAL),  # quiet
        (HeatSignals(12, 12, 0, 0), [], S.GENERAL, S.LARGER),  # many reporters
        (HeatSignals(6, 2, 0, 6), [], S.GENERAL, S.LARGER),  # fast growth
        (HeatSignals(1, 1, 150, 0), [], S.GENERAL, S.LARGER),  # likes
        (HeatSignals(30, 30, 500, 20), [], S.GENERAL, S.LARGER),  # three signals, still one step
        (HeatSignals(30, 30, 500, 20), ["安全生产"], S.LARGER, S.LARGER),  # capped at 较大 by default
        (HeatSignals(30, 30, 500, 20), [], S.MAJOR, S.MAJOR),  # never lowers
    ],
)
def test_adjust(heat, areas, start, level):
    assert adjust(start, heat, areas)[0] == level


def test_sensitive_cap_can_allow_major_when_configured():
    policy = HeatPolicy.from_dict({"sensitive_cap": "重大", "max_raise": 2, "window": "30m"})
    assert policy.window == timedelta(minutes=30)
    hot = HeatSignals(30, 30, 500, 20)
    assert adjust(S.GENERAL, hot, ["安全生产"], policy)[0] == S.MAJOR
    assert adjust(S.GENERAL, hot, [], policy)[0] == S.LARGER  # without a sensitive area: the plain cap


def test_reasons_name_the_signals():
    level, reasons = adjust(S.GENERAL, HeatSignals(12, 12, 150, 0))
    assert level == S.LARGER
    assert "12位群众反映" in reasons[0].text and "点赞150" in reasons[0].text and "由一般升为较大" in reasons[0].text
    _, capped = adjust(S.LARGER, HeatSignals(12, 12, 0, 0))
    assert "不再升级" in capped[0].text


def test_bad_policy_keys_are_rejected():
    with pytest.raises(ValueError, match="reportres"):
        HeatPolicy.from_dict({"reportres": 3})


def test_the_shipped_heat_policy_reads():

    import yaml

    data = yaml.safe_load((BUNDLED_CONFIG / "lexicons/severity.yaml").read_text("utf-8"))
    assert HeatPolicy.from_dict(data["heat"]) == HeatPolicy()
