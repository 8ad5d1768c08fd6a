"""Daily counts drawn as SVG bar charts on the server: no chart library, no script, nothing inline that the
console's Content-Security-Policy would block (bars are <rect>s coloured by console.css classes). Every
chart carries its numbers for people who cannot see it: a <title> and <desc>, a <title> per bar, and the
same figures as a table in the page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.core.cache import cache
from django.utils import dateformat, timezone
from django.utils.functional import Promise
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from audit import selectors as audit_selectors

DAYS = 30
# Counts of days before today are kept this long: the audit log is append-only, so they only change for an
# event committed just after midnight by a transaction that began before it.
PAST_DAYS_CACHE_SECONDS = 3600
WIDTH, HEIGHT = 600, 170
LEFT, RIGHT, TOP, BOTTOM = 34, 6, 10, 22
PLOT_WIDTH, PLOT_HEIGHT = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM


@dataclass(frozen=True)
class Series:
    """One chart: what it counts (`action`, an audit action) and how it is named on the page."""

    key: str
    title: str | Promise
    action: str
    meaning: str | Promise


# Audit actions, so each chart is one grouped query on one index (console_audit_action_day).
SERIES = (
    Series("signups", _("Sign-ups"), "user.registered", _("accounts registered")),
    Series("logins", _("Logins"), "auth.login", _("successful logins through any door")),
    Series("erasures", _("Erasures"), "gdpr.erasure_completed", _("accounts erased")),
    Series("exports", _("Exports"), "gdpr.export_requested", _("data exports requested")),
)


@dataclass(frozen=True)
class Bar:
    day: date
    count: int
    x: str
    y: str
    width: str
    height: str

    # Text made here, not with template filters: 240 of them per page made filters the page's main cost.
    @property
    def day_text(self) -> str:
        return self.day.isoformat()

    @property
    def count_text(self) -> str:
        return str(self.count)


@dataclass(frozen=True)
class Tick:
    value: int
    y: str


@dataclass(frozen=True)
class Label:
    text: str
    x: str
    anchor: str


@dataclass(frozen=True)
class Chart:
    series: Series
    bars: list[Bar]
    ticks: list[Tick]
    labels: list[Label]
    total: int
    peak: Bar

    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right: int = WIDTH - RIGHT
    baseline: int = TOP + PLOT_HEIGHT

    @property
    def first_day(self) -> date:
        return self.bars[0].day

    @property
    def last_day(self) -> date:
        return self.bars[-1].day

    @property
    def description(self) -> str:
        """What the chart shows, in words (its SVG <desc>)."""
        values = {
            "title": self.series.title,
            "first": f"{self.first_day:%Y-%m-%d}",
            "last": f"{self.last_day:%Y-%m-%d}",
            "total": f"{self.total:,}",
            "peak_day": f"{self.peak.day:%Y-%m-%d}",
            "peak": f"{self.peak.count:,}",
        }
        if self.total:
            return (
                gettext(
                    "%(title)s per day (UTC), %(first)s to %(last)s: %(total)s in all, most on %(peak_day)s (%(peak)s)."
                )
                % values
            )
        return gettext("%(title)s per day (UTC), %(first)s to %(last)s: %(total)s in all.") % values


def window_start(today: date | None = None) -> datetime:
    """Midnight (UTC) starting the first of the DAYS days that end today."""
    today = today or timezone.now().date()
    return timezone.make_aware(datetime.combine(today - timedelta(days=DAYS - 1), time.min))


def series_counts(series: Series, *, today: date | None = None) -> dict[date, int]:
    """Events of `series` per day of the DAYS days ending today: one grouped query, over the whole window
    when the days before today are not cached (then they are), else over today alone. Counting 300,000
    logins of a month takes PostgreSQL a few hundred milliseconds even from the index; today's take a few."""
    today = today or timezone.now().date()
    start = window_start(today)
    key = f"console:chart:{series.action}:{start:%Y-%m-%d}"
    past: dict[str, int] | None = cache.get(key)
    if past is None:
        counts = audit_selectors.events_per_day(action=series.action, since=start)
        cache.set(
            key,
            {day.isoformat(): n for day, n in counts.items() if day < today},
            PAST_DAYS_CACHE_SECONDS,
        )
        return counts
    midnight = timezone.make_aware(datetime.combine(today, time.min))
    return {
        **{date.fromisoformat(day): n for day, n in past.items()},
        **audit_selectors.events_per_day(action=series.action, since=midnight),
    }


def _scale_top(peak: int) -> int:
    """The smallest 1, 2 or 5 times a power of ten at or above the peak: round gridline values."""
    top = 1
    while True:
        for step in (1, 2, 5):
            if top * step >= peak:
                return top * step
        top *= 10


def _f(value: float) -> str:
    # Coordinates are formatted here, not by the template, so a locale's decimal comma never reaches SVG.
    return f"{value:.1f}"


def _day(day: date) -> str:
    # Django's month abbreviations, in the active language ("Dec 2" / "Dez. 2"), not the C locale's.
    return dateformat.format(day, "M j")


def chart_build(series: Series, counts: dict[date, int], *, today: date | None = None) -> Chart:
    """The geometry of one chart of the DAYS days ending `today` (days missing from `counts` are 0)."""
    first = window_start(today).date()
    days = [first + timedelta(days=offset) for offset in range(DAYS)]
    values = [counts.get(day, 0) for day in days]
    top = _scale_top(max(values))
    slot = PLOT_WIDTH / DAYS
    bars = []
    for index, (day, count) in enumerate(zip(days, values, strict=True)):
        height = PLOT_HEIGHT * count / top
        bars.append(
            Bar(
                day=day,
                count=count,
                x=_f(LEFT + index * slot + slot * 0.15),
                y=_f(TOP + PLOT_HEIGHT - height),
                width=_f(slot * 0.7),
                height=_f(height),
            )
        )
    tick_values = [0, top // 2, top] if top % 2 == 0 else [0, top]
    ticks = [Tick(value=v, y=_f(TOP + PLOT_HEIGHT - PLOT_HEIGHT * v / top)) for v in tick_values]
    # First, middle and last day under the axis; the outer two aligned to the plot's edges.
    labels = [
        Label(text=_day(days[0]), x=_f(LEFT), anchor="start"),
        Label(text=_day(days[DAYS // 2]), x=_f(LEFT + (DAYS // 2) * slot + slot / 2), anchor="middle"),
        Label(text=_day(days[-1]), x=_f(WIDTH - RIGHT), anchor="end"),
    ]
    peak = max(bars, key=lambda bar: (bar.count, bar.day))
    return Chart(series=series, bars=bars, ticks=ticks, labels=labels, total=sum(values), peak=peak)
