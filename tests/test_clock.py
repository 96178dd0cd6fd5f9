from datetime import datetime, timedelta, timezone

from monitor.core.clock import SHANGHAI, ManualClock, SystemClock, as_utc, fmt_delta, fmt_local


def test_manual_clock_moves_only_when_told():
    c = ManualClock(datetime(2026, 11, 23, 9, 0, tzinfo=SHANGHAI))
    assert c.now() == datetime(2026, 11, 23, 1, 0, tzinfo=timezone.utc)
    assert c.now() == c.now()
    c.advance(timedelta(hours=2))
    assert c.now().hour == 3 and c.now().tzinfo == timezone.utc
    c.set(datetime(2027, 1, 1))  # naive = Beijing wall time
    assert c.now() == datetime(2026, 12, 31, 16, 0, tzinfo=timezone.utc)


def test_system_clock_is_aware_utc():
    now = SystemClock().now()
    assert now.tzinfo == timezone.utc
    assert abs((datetime.now(timezone.utc) - now).total_seconds()) < 5


def test_naive_means_beijing_and_display_is_beijing():
    assert as_utc(datetime(2026, 11, 23, 8, 0)).hour == 0
    assert fmt_local(datetime(2026, 11, 23, 16, 30, tzinfo=timezone.utc)) == "2026-11-24 00:30"
    assert fmt_local(None) == "—"


def test_no_dst_in_shanghai():
    # Asia/Shanghai has had no DST since 1991: summer and winter offsets are both +8
    for month in (1, 7):
        assert datetime(2026, month, 1, tzinfo=SHANGHAI).utcoffset() == timedelta(hours=8)


def test_fmt_delta():
    assert fmt_delta(timedelta(hours=4, minutes=12)) == "4小时12分"
    assert fmt_delta(timedelta(minutes=-35)) == "已超时 35分"
    assert fmt_delta(timedelta(days=1, hours=2)) == "1天2小时"
    assert fmt_delta(timedelta(0)) == "0分"
