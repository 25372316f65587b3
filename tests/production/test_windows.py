"""Time windows of window products (landpulse.production.windows): pure functions, hand-worked dates.

The calendar facts checked here: 2024 is a leap year (February has 29 days, so its third dekad
has 9 days), June has 30 days (third dekad: 10 days), July 31 (11 days); meteorological winter
(DJF) runs from 1 December to the end of February.
"""

from __future__ import annotations

import datetime as dt

import pytest

from landpulse.errors import InputError
from landpulse.production.windows import (
    Window,
    WindowError,
    check_window_spec,
    dekad_window,
    month_window,
    quarter_window,
    rolling_windows,
    scenes_in,
    season_window,
    windows_of,
    year_window,
)

D = dt.datetime


@pytest.mark.parametrize("day,label,start,end", [
    (D(2024, 2, 1), "2024-02-D1", D(2024, 2, 1), D(2024, 2, 11)),
    (D(2024, 2, 10, 23, 59), "2024-02-D1", D(2024, 2, 1), D(2024, 2, 11)),
    (D(2024, 2, 11), "2024-02-D2", D(2024, 2, 11), D(2024, 2, 21)),
    (D(2024, 2, 29), "2024-02-D3", D(2024, 2, 21), D(2024, 3, 1)),   # leap year: 9 days
    (D(2023, 2, 28), "2023-02-D3", D(2023, 2, 21), D(2023, 3, 1)),   # 8 days
    (D(2022, 6, 30), "2022-06-D3", D(2022, 6, 21), D(2022, 7, 1)),   # 10 days
    (D(2022, 7, 31), "2022-07-D3", D(2022, 7, 21), D(2022, 8, 1)),   # 11 days
    (D(2022, 12, 25), "2022-12-D3", D(2022, 12, 21), D(2023, 1, 1)),
])
def test_dekads(day: dt.datetime, label: str, start: dt.datetime, end: dt.datetime) -> None:
    assert dekad_window(day) == Window(start, end, label, "dekad")


def test_calendar_windows() -> None:
    assert month_window(D(2022, 12, 31, 23)) == Window(D(2022, 12, 1), D(2023, 1, 1), "2022-12", "month")
    assert month_window(D(2024, 2, 29)).end == D(2024, 3, 1)
    assert quarter_window(D(2022, 6, 30)) == Window(D(2022, 4, 1), D(2022, 7, 1), "2022-Q2", "quarter")
    assert quarter_window(D(2022, 11, 2)) == Window(D(2022, 10, 1), D(2023, 1, 1), "2022-Q4", "quarter")
    assert year_window(D(2022, 6, 2)) == Window(D(2022, 1, 1), D(2023, 1, 1), "2022", "year")
    # DJF: December with the next January and February, labelled with the December's year
    assert season_window(D(2022, 1, 15)) == Window(D(2021, 12, 1), D(2022, 3, 1), "2021-DJF", "season")
    assert season_window(D(2021, 12, 1)) == Window(D(2021, 12, 1), D(2022, 3, 1), "2021-DJF", "season")
    assert season_window(D(2022, 6, 2)) == Window(D(2022, 6, 1), D(2022, 9, 1), "2022-JJA", "season")
    assert season_window(D(2022, 11, 30)) == Window(D(2022, 9, 1), D(2022, 12, 1), "2022-SON", "season")


def test_rolling_windows() -> None:
    anchor = D(2022, 6, 1)
    # back to back 10-day windows from 1 June: the 12th is in the second one
    assert rolling_windows(D(2022, 6, 12), 10, anchor=anchor) == [
        Window(D(2022, 6, 11), D(2022, 6, 21), "20220611-P10D", "rolling")]
    # 30-day windows starting every 10 days: three of them hold 25 June
    got = rolling_windows(D(2022, 6, 25, 10), 30, 10, anchor=anchor)
    assert [w.label for w in got] == ["20220601-P30D", "20220611-P30D", "20220621-P30D"]
    assert all(w.contains(D(2022, 6, 25, 10)) for w in got)
    # before the anchor too, and the day a window ends is not in it
    assert rolling_windows(D(2022, 5, 31), 10, anchor=anchor)[0].start == D(2022, 5, 22)
    assert not rolling_windows(D(2022, 6, 11), 10, anchor=anchor)[0].contains(D(2022, 6, 10, 23))


def test_windows_of_scene_times() -> None:
    times = [D(2022, 6, 2, 10), D(2022, 6, 12, 10), D(2022, 6, 30, 10), D(2022, 7, 2, 10)]
    assert [w.label for w in windows_of({"kind": "month"}, times)] == ["2022-06", "2022-07"]
    assert [w.label for w in windows_of({"kind": "dekad"}, times)] == ["2022-06-D1", "2022-06-D2", "2022-06-D3",
                                                                       "2022-07-D1"]
    rng = windows_of({"kind": "range", "ranges": [{"start": "2022-06-01", "end": "2022-06-15"},
                                                   {"start": "2022-08-01", "end": "2022-08-31", "label": "aug"}]}, times)
    assert rng == [Window(D(2022, 6, 1), D(2022, 6, 16), "20220601-20220615", "range")]  # aug holds no scene
    pre, post = windows_of({"kind": "event", "date": "2022-06-20", "pre_days": 20, "post_days": 15}, times)
    assert (pre.start, pre.end, pre.label) == (D(2022, 5, 31), D(2022, 6, 20), "pre-20220620")
    assert (post.start, post.end, post.label) == (D(2022, 6, 20), D(2022, 7, 5), "post-20220620")
    (ref,) = windows_of({"kind": "reference", "start": "2022-06-01", "end": "2022-06-30"}, times)
    assert ref.label == "ref-20220601-20220630" and ref.end == D(2022, 7, 1)
    (everything,) = windows_of({"kind": "all"}, times)
    assert (everything.start, everything.end) == (D(2022, 6, 2), D(2022, 7, 3)) and everything.is_open(D(2030, 1, 1))
    assert scenes_in(windows_of({"kind": "month"}, times)[0], times) == [0, 1, 2]


def test_open_windows_are_provisional() -> None:
    june = month_window(D(2022, 6, 2))
    assert june.is_open(D(2022, 6, 30, 23, 59))
    assert not june.is_open(D(2022, 7, 1))
    assert june.last_second == D(2022, 6, 30, 23, 59, 59)
    assert june.as_dict() == {"kind": "month", "label": "2022-06", "start": "2022-06-01T00:00:00Z",
                              "end": "2022-07-01T00:00:00Z"}


@pytest.mark.parametrize("spec,message", [
    ({"kind": "fortnight"}, "unknown window kind 'fortnight'"),
    ({"kind": "range", "ranges": [{"start": "2022-06-30", "end": "2022-06-01"}]}, "is before start"),
    ({"kind": "reference", "start": "2022-06-30", "end": "2022-06-01"}, "is before start"),
    ({"kind": "range", "ranges": []}, "range windows need"),
    ({"kind": "rolling", "days": 0}, "days must be"),
    ({"kind": "month", "days": 3}, "unknown key(s) ['days']"),
    ({"kind": "event", "pre_days": 10}, "need the event's `date`"),
    ({"kind": "reference", "start": "2022-06-01", "end": "2022-06-30", "label": "a/b"}, "label"),
    ({"kind": "range", "ranges": [{"start": "June", "end": "2022-06-01"}]}, "not an ISO date"),
])
def test_bad_windows_are_clear_errors(spec: dict[str, object], message: str) -> None:
    with pytest.raises(WindowError, match=None) as info:
        check_window_spec(spec)
    assert message in str(info.value) and isinstance(info.value, InputError)


def test_empty_window_is_an_error() -> None:
    with pytest.raises(WindowError, match="holds no scene"):
        scenes_in(month_window(D(2022, 6, 2)), [D(2022, 7, 2)])
    with pytest.raises(WindowError, match="not after start"):
        Window(D(2022, 6, 2), D(2022, 6, 2), "x", "range")
