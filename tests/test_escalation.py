"""Escalation arithmetic (pure): table tests and properties, time injected."""

from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings as hsettings, strategies as st

from monitor.core.clock import SHANGHAI
from monitor.deadlines.escalation import Position, advance, bases, first, last_fired
from monitor.config.settings import EscalationStep
from monitor.core.workcal import WorkCalendar

CAL = WorkCalendar()
DUE = datetime(2026, 11, 23, 15, 0, tzinfo=SHANGHAI)
H, M = timedelta(hours=1), timedelta(minutes=1)

MAJOR = [
    EscalationStep(at="-2h", notify=["responsible"]),
    EscalationStep(at="-30m", notify=["responsible", "duty_officer"]),
    EscalationStep(at="0s", notify=["duty_officer", "office_leader"]),
    EscalationStep(at="+1h", notify=["office_leader"], repeat="1h"),
]


def run(steps, pos, now, acked=None):
    return advance(steps, DUE, CAL, pos, now, acked)


@pytest.mark.parametrize(
    "pos,now,fire,missed,nxt,next_at",
    [
        # not yet due
        (Position(0), DUE - 2 * H - M, None, None, None, None),
        # exactly on time, each step in turn
        (Position(0), DUE - 2 * H, Position(0), 0, Position(1), DUE - 30 * M),
        (Position(1), DUE - 30 * M, Position(1), 0, Position(2), DUE),
        (Position(2), DUE, Position(2), 0, Position(3), DUE + H),
        (Position(3), DUE + H, Position(3), 0, Position(3, 1), DUE + 2 * H),
        (Position(3, 1), DUE + 2 * H + 5 * M, Position(3, 1), 0, Position(3, 2), DUE + 3 * H),
        # down from before the first step until 20 minutes overdue: one firing of step 2, two missed
        (Position(0), DUE + 20 * M, Position(2), 2, Position(3), DUE + H),
        # down for 10 hours after the due time: the 9th repeat fires once; everything before it was missed
        (Position(2), DUE + 10 * H + M, Position(3, 9), 10, Position(3, 10), DUE + 11 * H),
    ],
)
def test_advance_table(pos, now, fire, missed, nxt, next_at):
    a = run(MAJOR, pos, now)
    if fire is None:
        assert a is None
        return
    assert (a.fire, a.missed, a.next, a.next_at) == (fire, missed, nxt, next_at)


def test_ack_silences_repeats_of_the_acked_step_only():
    a = run(MAJOR, Position(3, 1), DUE + 2 * H, acked=3)
    assert a.suppressed and a.next == Position(3, 2)
    assert not run(MAJOR, Position(3), DUE + H, acked=2).suppressed  # the next step still fires
    assert not run(MAJOR, Position(3), DUE + H, acked=3).suppressed  # first firing of a step is never silent


def test_policy_without_repeat_ends():
    steps = MAJOR[:3]
    a = run(steps, Position(2), DUE + 5 * H)
    assert a.fire == Position(2) and a.next is None and a.next_at is None
    assert run(steps, Position(3), DUE + 50 * H) is None  # exhausted


def test_working_day_offsets():
    steps = [EscalationStep(at="-1wd", notify=["responsible"]), EscalationStep(at="0s", notify=["duty_officer"])]
    due = datetime(2026, 10, 9, 0, 0, tzinfo=SHANGHAI)  # 24:00 of Thu 8 Oct, after the 国庆 holiday
    # one working day before 00:00 on Fri 9 Oct is 00:00 on Thu 8 Oct (1–7 Oct are holidays)
    assert bases(steps, due, CAL)[0] == datetime(2026, 10, 8, 0, 0, tzinfo=SHANGHAI)


def test_first_and_last_fired():
    assert first(MAJOR, DUE, CAL) == (Position(0), DUE - 2 * H)
    assert first([], DUE, CAL) is None
    assert last_fired(Position(0)) is None
    assert last_fired(Position(2)) == 1
    assert last_fired(Position(3, 4)) == 3
    assert last_fired(Position(4)) == 3


def test_position_key():
    assert Position(2).key == "2" and Position(3, 4).key == "3r4"


offsets = st.lists(st.integers(min_value=-600, max_value=600), min_size=1, max_size=5).map(sorted)


@hsettings(max_examples=300, deadline=None)
@given(offsets=offsets, repeat=st.one_of(st.none(), st.integers(min_value=1, max_value=120)),
       sweeps=st.lists(st.integers(min_value=1, max_value=400), min_size=1, max_size=40))
def test_sweeping_never_fires_twice_and_accounts_for_every_time(offsets, repeat, sweeps):
    """Whatever the sweep times: fired positions strictly increase, none fires before its time, and
    fired + missed equals the number of fire times that have passed."""
    steps = [EscalationStep(at=f"{o}m", notify=["x"]) for o in offsets]
    if repeat:
        steps[-1] = EscalationStep(at=f"{offsets[-1]}m", notify=["x"], repeat=f"{repeat}m")
    base = bases(steps, DUE, CAL)
    pos, at = Position(0), base[0]
    now = DUE - timedelta(minutes=700)
    fired, accounted = [], 0
    for gap in sweeps:
        now += timedelta(minutes=gap)
        a = advance(steps, DUE, CAL, pos, now)
        if a is None:
            assert pos.step >= len(steps) or at > now
            continue
        assert not fired or a.fire > fired[-1]
        fired.append(a.fire)
        accounted += 1 + a.missed
        if a.next is None:
            pos, at = Position(len(steps)), None
        else:
            assert a.next_at > now
            pos, at = a.next, a.next_at
    # count the fire times <= now by brute force
    expected = 0
    for i, b in enumerate(base):
        end = base[i + 1] if i + 1 < len(base) else None
        t = b
        while t <= now and (end is None or t < end or t == b):
            expected += 1
            if steps[i].repeat is None:
                break
            t += steps[i].repeat.timedelta()
            if end is not None and t >= end:
                break
    assert accounted == expected
