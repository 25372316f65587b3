"""Time windows of window products: which scenes a unit reduces over, and whether it is final.

A window is a half-open UTC interval ``[start, end)`` with a label that names its unit's folder
(``<store>/<product>/<tile>/<label>/``). The kinds a job spec can ask for
(``products: [{name: ..., window: {...}}]``):

``month``, ``quarter``, ``year``
    Calendar periods (``2022-06``, ``2022-Q2``, ``2022``).
``season``
    Meteorological seasons DJF, MAM, JJA, SON; a DJF window starts on 1 December and is labelled
    with that December's year (``2021-DJF`` is December 2021 to February 2022).
``dekad``
    The 10-day periods of agricultural monitoring (FAO, JRC MARS): days 1-10, 11-20 and 21 to the
    end of the month (8 to 11 days), labelled ``2022-06-D1`` .. ``D3``.
``rolling``
    ``days`` long, one starting every ``step`` days (default ``days``: back to back) from
    ``anchor`` (default 1970-01-01), labelled ``<start YYYYMMDD>-P<days>D``. Overlapping
    windows (``step < days``) put one scene into several units.
``range``
    Explicit ``ranges: [{start, end, label}]`` (``end`` inclusive as a date: the whole day).
``event``
    ``date`` with ``pre_days`` and ``post_days``: a ``pre`` window ending the day before the
    event and a ``post`` window starting on it (the inputs of burn severity, flood extent).
``reference``
    One fixed period (``start``, ``end``, inclusive as dates), e.g. the baseline years a
    season is compared against.
``all``
    Every scene of the tile in one window labelled ``all``, from the first scene's day to the
    day after the last one: the default of a window product given no window (``landpulse
    compute``). It is always open: the next scene extends it (and replaces its unit).

Calendar and rolling windows are generated from the scenes' acquisition times: only windows
holding at least one scene become units. A window is *open* (its unit *provisional*) while the
planning time is before its end: a scene may still arrive in it.

Everything here is a pure function of its arguments (no clock is read: callers pass ``now``).
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from landpulse.errors import InputError

#: The window kinds a job spec may name.
WINDOW_KINDS = ("month", "quarter", "season", "year", "dekad", "rolling", "range", "event", "reference", "all")

_SEASONS = {12: "DJF", 1: "DJF", 2: "DJF", 3: "MAM", 4: "MAM", 5: "MAM", 6: "JJA", 7: "JJA", 8: "JJA",
            9: "SON", 10: "SON", 11: "SON"}
_EPOCH = dt.datetime(1970, 1, 1)


class WindowError(InputError):
    """A window that cannot be: end before start, an unknown kind, an empty window, a bad label."""


@dataclass(frozen=True, order=True)
class Window:
    """One time window: ``[start, end)`` in UTC (naive datetimes), with the label of its unit.

    Attributes
    ----------
    start, end : datetime.datetime
        Inclusive start and exclusive end, naive UTC.
    label : str
        The unit's folder name (letters, digits, ``-``, ``_``, ``.``).
    kind : str
        One of :data:`WINDOW_KINDS`.
    """

    start: dt.datetime
    end: dt.datetime
    label: str
    kind: str

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise WindowError(f"window {self.label!r}: end {self.end:%Y-%m-%d %H:%M:%S} is not after start "
                              f"{self.start:%Y-%m-%d %H:%M:%S}; a window needs end after start")

    def contains(self, when: dt.datetime) -> bool:
        """Whether an acquisition time (naive UTC) falls in the window."""
        return self.start <= when < self.end

    def is_open(self, now: dt.datetime) -> bool:
        """Whether a scene may still arrive in it: the planning time ``now`` is before its end
        (an ``all`` window is always open)."""
        return self.kind == "all" or now < self.end

    @property
    def last_second(self) -> dt.datetime:
        """The inclusive end (one second before ``end``): STAC's ``end_datetime``."""
        return self.end - dt.timedelta(seconds=1)

    def as_dict(self) -> dict[str, str]:
        """JSON-ready description (ISO times, ``Z``): what items and reports record."""
        return {"kind": self.kind, "label": self.label, "start": _iso(self.start), "end": _iso(self.end)}


def _iso(t: dt.datetime) -> str:
    return t.isoformat(timespec="seconds") + "Z"


def _utc(t: Any, what: str) -> dt.datetime:
    """A naive UTC datetime from a date, datetime or ISO string (dates: midnight)."""
    if isinstance(t, str):
        try:
            t = dt.datetime.fromisoformat(t.replace("Z", "+00:00"))
        except ValueError:
            raise WindowError(f"{what}: {t!r} is not an ISO date or time (YYYY-MM-DD)") from None
    if isinstance(t, dt.date) and not isinstance(t, dt.datetime):
        t = dt.datetime(t.year, t.month, t.day)
    if not isinstance(t, dt.datetime):
        raise WindowError(f"{what}: {t!r} is not a date")
    if t.tzinfo is not None:
        t = t.astimezone(dt.UTC).replace(tzinfo=None)
    return t


def _day_after(t: Any, what: str) -> dt.datetime:
    """The exclusive end of an inclusive end date: the next midnight (a time is kept as given)."""
    if isinstance(t, dt.date) and not isinstance(t, dt.datetime):
        return _utc(t, what) + dt.timedelta(days=1)
    if isinstance(t, str) and len(t) == 10:
        return _utc(t, what) + dt.timedelta(days=1)
    return _utc(t, what)


# ---- the calendar windows of one time ---------------------------------------------------------


def month_window(when: dt.datetime) -> Window:
    """The calendar month holding ``when`` (``2022-06``)."""
    start = dt.datetime(when.year, when.month, 1)
    end = dt.datetime(when.year + (when.month == 12), when.month % 12 + 1, 1)
    return Window(start, end, f"{when.year:04d}-{when.month:02d}", "month")


def quarter_window(when: dt.datetime) -> Window:
    """The calendar quarter holding ``when`` (``2022-Q2``: April to June)."""
    q = (when.month - 1) // 3
    start = dt.datetime(when.year, 3 * q + 1, 1)
    end = dt.datetime(when.year + 1, 1, 1) if q == 3 else dt.datetime(when.year, 3 * q + 4, 1)
    return Window(start, end, f"{when.year:04d}-Q{q + 1}", "quarter")


def season_window(when: dt.datetime) -> Window:
    """The meteorological season holding ``when``; DJF is labelled with its December's year."""
    name = _SEASONS[when.month]
    first = {"DJF": 12, "MAM": 3, "JJA": 6, "SON": 9}[name]
    year = when.year - 1 if when.month in (1, 2) else when.year
    start = dt.datetime(year, first, 1)
    end_month = first + 3
    end = dt.datetime(year + (end_month > 12), (end_month - 1) % 12 + 1, 1)
    return Window(start, end, f"{year:04d}-{name}", "season")


def year_window(when: dt.datetime) -> Window:
    """The calendar year holding ``when`` (``2022``)."""
    return Window(dt.datetime(when.year, 1, 1), dt.datetime(when.year + 1, 1, 1), f"{when.year:04d}", "year")


def dekad_window(when: dt.datetime) -> Window:
    """The dekad holding ``when``: days 1-10 (``D1``), 11-20 (``D2``), 21 to the month's end (``D3``)."""
    k = min((when.day - 1) // 10, 2)
    start = dt.datetime(when.year, when.month, 10 * k + 1)
    if k < 2:
        end = dt.datetime(when.year, when.month, 10 * k + 11)
    else:
        end = dt.datetime(when.year, when.month, calendar.monthrange(when.year, when.month)[1]) + dt.timedelta(days=1)
    return Window(start, end, f"{when.year:04d}-{when.month:02d}-D{k + 1}", "dekad")


def rolling_windows(when: dt.datetime, days: int, step: int | None = None, anchor: dt.datetime = _EPOCH) -> list[Window]:
    """Every rolling window of ``days`` days (one starting each ``step`` days from ``anchor``) that
    holds ``when``, oldest first."""
    step = days if step is None else step
    if days < 1 or step < 1:
        raise WindowError(f"rolling windows need days >= 1 and step >= 1; got days={days}, step={step}")
    offset = (when - anchor) // dt.timedelta(days=1)  # whole days since the anchor (negative before it)
    last = offset // step  # the newest window starting on or before when's day
    out = []
    k = last
    while True:
        start = anchor + dt.timedelta(days=k * step)
        end = start + dt.timedelta(days=days)
        if end <= when:
            break
        out.append(Window(start, end, f"{start:%Y%m%d}-P{days}D", "rolling"))
        k -= 1
    return sorted(out)


# ---- windows of a spec ------------------------------------------------------------------------


def _check_keys(spec: dict[str, Any], kind: str, allowed: Sequence[str]) -> None:
    extra = sorted(set(spec) - {"kind", *allowed})
    if extra:
        raise WindowError(f"window of kind {kind!r}: unknown key(s) {extra}; accepted: {', '.join(allowed) or 'none'}")


def _check_label(label: str) -> str:
    if not label or label in (".", "..") or not all(c.isalnum() or c in "-_." for c in label):
        raise WindowError(f"window label {label!r}: use letters, digits, '-', '_' and '.' only")
    return label


def fixed_windows(spec: dict[str, Any]) -> list[Window] | None:
    """The windows of a spec that does not depend on the scenes (range, event, reference), or
    None for the calendar and rolling kinds (see :func:`windows_of`).

    Raises
    ------
    WindowError
        For an unknown kind, unknown keys, end before start, bad labels.
    """
    kind = spec.get("kind")
    if kind not in WINDOW_KINDS:
        raise WindowError(f"unknown window kind {kind!r}; one of {', '.join(WINDOW_KINDS)}")
    if kind in ("month", "quarter", "season", "year", "dekad", "all"):
        _check_keys(spec, kind, [])
        return None
    if kind == "rolling":
        _check_keys(spec, kind, ["days", "step", "anchor"])
        days, step = spec.get("days"), spec.get("step")
        if not isinstance(days, int) or isinstance(days, bool) or days < 1:
            raise WindowError(f"rolling window: days must be a whole number of days >= 1; got {days!r}")
        if step is not None and (not isinstance(step, int) or isinstance(step, bool) or step < 1):
            raise WindowError(f"rolling window: step must be a whole number of days >= 1; got {step!r}")
        _utc(spec.get("anchor", _EPOCH), "rolling window anchor")
        return None
    if kind == "range":
        _check_keys(spec, kind, ["ranges"])
        ranges = spec.get("ranges")
        if not isinstance(ranges, list) or not ranges:
            raise WindowError("range windows need `ranges: [{start: YYYY-MM-DD, end: YYYY-MM-DD, label: ...}]`")
        out = []
        for i, r in enumerate(ranges):
            if not isinstance(r, dict) or "start" not in r or "end" not in r:
                raise WindowError(f"range window {i}: needs start and end")
            extra = sorted(set(r) - {"start", "end", "label"})
            if extra:
                raise WindowError(f"range window {i}: unknown key(s) {extra}; accepted: start, end, label")
            start, end = _utc(r["start"], f"range {i} start"), _day_after(r["end"], f"range {i} end")
            if end <= start:
                raise WindowError(f"range window {i}: end {r['end']} is before start {r['start']}")
            label = _check_label(str(r.get("label") or f"{start:%Y%m%d}-{end - dt.timedelta(seconds=1):%Y%m%d}"))
            out.append(Window(start, end, label, "range"))
        labels = [w.label for w in out]
        if len(set(labels)) != len(labels):
            raise WindowError(f"range windows: labels {labels} repeat; give each range its own label")
        return out
    if kind == "event":
        _check_keys(spec, kind, ["date", "pre_days", "post_days"])
        if "date" not in spec:
            raise WindowError("event windows need the event's `date`")
        when = _utc(spec["date"], "event date")
        pre, post = spec.get("pre_days", 30), spec.get("post_days", 30)
        for name, v in (("pre_days", pre), ("post_days", post)):
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise WindowError(f"event window: {name} must be a whole number of days >= 1; got {v!r}")
        day = dt.datetime(when.year, when.month, when.day)
        return [Window(day - dt.timedelta(days=pre), day, f"pre-{day:%Y%m%d}", "event"),
                Window(day, day + dt.timedelta(days=post), f"post-{day:%Y%m%d}", "event")]
    # reference
    _check_keys(spec, kind, ["start", "end", "label"])
    if "start" not in spec or "end" not in spec:
        raise WindowError("a reference window needs start and end")
    start, end = _utc(spec["start"], "reference start"), _day_after(spec["end"], "reference end")
    if end <= start:
        raise WindowError(f"reference window: end {spec['end']} is before start {spec['start']}")
    label = _check_label(str(spec.get("label") or f"ref-{start:%Y%m%d}-{end - dt.timedelta(seconds=1):%Y%m%d}"))
    return [Window(start, end, label, "reference")]


def check_window_spec(spec: Any) -> dict[str, Any]:
    """Validate a window spec (a mapping with ``kind``) and return it; raises :class:`WindowError`."""
    if isinstance(spec, str):
        spec = {"kind": spec}
    if not isinstance(spec, dict):
        raise WindowError(f"a window is a mapping with `kind` ({', '.join(WINDOW_KINDS)}) or one of those names; got {spec!r}")
    fixed_windows(spec)
    return dict(spec)


def windows_of(spec: dict[str, Any], times: Iterable[dt.datetime]) -> list[Window]:
    """The windows of ``spec`` that hold at least one of ``times`` (naive UTC), oldest first.

    Raises
    ------
    WindowError
        For a bad spec (see :func:`fixed_windows`).
    """
    times = list(times)
    fixed = fixed_windows(spec)
    if fixed is not None:
        return sorted(w for w in fixed if any(w.contains(t) for t in times))
    kind = spec["kind"]
    if kind == "all":
        if not times:
            return []
        first, last = min(times), max(times)
        return [Window(dt.datetime(first.year, first.month, first.day),
                       dt.datetime(last.year, last.month, last.day) + dt.timedelta(days=1), "all", "all")]
    found: set[Window] = set()
    for t in times:
        if kind == "rolling":
            found.update(rolling_windows(t, spec["days"], spec.get("step"), _utc(spec.get("anchor", _EPOCH), "anchor")))
        else:
            found.add({"month": month_window, "quarter": quarter_window, "season": season_window,
                       "year": year_window, "dekad": dekad_window}[kind](t))
    return sorted(found)


def scenes_in(window: Window, times: Sequence[dt.datetime]) -> list[int]:
    """Indices of ``times`` inside ``window``.

    Raises
    ------
    WindowError
        When none is (an empty window has no unit).
    """
    idx = [i for i, t in enumerate(times) if window.contains(t)]
    if not idx:
        raise WindowError(f"window {window.label} ({_iso(window.start)} .. {_iso(window.end)}) holds no scene")
    return idx


__all__ = ["WINDOW_KINDS", "Window", "WindowError", "check_window_spec", "dekad_window", "fixed_windows",
           "month_window", "quarter_window", "rolling_windows", "scenes_in", "season_window", "windows_of",
           "year_window"]
