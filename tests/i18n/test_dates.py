"""Days and moments in the reader's time zone: a Stripe timestamp is UTC, the page is not."""

from __future__ import annotations

import datetime as dt

import pytest

from portal.formatting import format_date, format_moment
from tests.i18n.conftest import reading

HO_CHI_MINH = "Asia/Ho_Chi_Minh"
LOS_ANGELES = "America/Los_Angeles"


def stamp(*args: int) -> int:
    return int(dt.datetime(*args, tzinfo=dt.UTC).timestamp())


#: A renewal at 23:30 UTC: the next day in Ho Chi Minh City (UTC+7), the same day in Los Angeles.
RENEWAL = stamp(2026, 11, 22, 23, 30)


@pytest.mark.parametrize(
    ("zone", "day", "moment"),
    [
        (None, "22 Nov 2026", "22 Nov 2026, 23:30 UTC"),
        (HO_CHI_MINH, "23 Nov 2026", "23 Nov 2026, 06:30 +0700"),
        (LOS_ANGELES, "22 Nov 2026", "22 Nov 2026, 15:30 PST"),
    ],
)
def test_a_stripe_timestamp_in_each_zone(app, zone, day, moment):
    with reading(app, "en", zone):
        assert format_date(RENEWAL) == day
        assert format_moment(RENEWAL) == moment
        # The database's naive datetimes are UTC too.
        assert format_date(dt.datetime(2026, 11, 22, 23, 30)) == day
        assert format_moment(dt.datetime(2026, 11, 22, 23, 30)) == moment


def test_the_day_boundary_runs_the_other_way_in_los_angeles(app):
    early = stamp(2026, 11, 23, 5, 0)  # 21:00 the evening before in Los Angeles
    with reading(app, "en"):
        assert format_date(early) == "23 Nov 2026"
    with reading(app, "en", LOS_ANGELES):
        assert format_date(early) == "22 Nov 2026"
        assert format_moment(early) == "22 Nov 2026, 21:00 PST"


def test_daylight_saving_time_moves_the_clock(app):
    """Los Angeles springs forward at 10:00 UTC on 8 March 2026, and falls back at 09:00 UTC on 1 November."""
    with reading(app, "en", LOS_ANGELES):
        assert format_moment(stamp(2026, 3, 8, 9, 30)) == "08 Mar 2026, 01:30 PST"
        assert format_moment(stamp(2026, 3, 8, 10, 30)) == "08 Mar 2026, 03:30 PDT"
        assert format_moment(stamp(2026, 11, 1, 8, 30)) == "01 Nov 2026, 01:30 PDT"
        assert format_moment(stamp(2026, 11, 1, 9, 30)) == "01 Nov 2026, 01:30 PST"
        # Midnight UTC on 1 July is still 30 June in summer time (UTC-7).
        assert format_date(stamp(2026, 7, 1, 6, 30)) == "30 Jun 2026"
        assert format_date(stamp(2026, 7, 1, 7, 30)) == "01 Jul 2026"


def test_vietnamese_days(app):
    with reading(app, "vi", HO_CHI_MINH):
        assert format_date(RENEWAL) == "23 thg 11, 2026"
        assert format_moment(RENEWAL) == "23 thg 11, 2026, 06:30 +0700"


def test_no_date_reads_as_a_dash(app):
    with reading(app, "vi", HO_CHI_MINH):
        assert format_date(None) == "—"
        assert format_moment(None) == "—"


def test_the_day_filter_reads_in_the_zone_in_force(app):
    template = app.jinja_env.from_string("{{ renews|day }}")
    with reading(app, "en", HO_CHI_MINH):
        assert template.render(renews=RENEWAL) == "23 Nov 2026"
    with reading(app, "en"):
        assert template.render(renews=RENEWAL) == "22 Nov 2026"
