"""The pure parts of the worker-memory measurement (`python -m devstack.rss`): reading RSS, telling a plateau,
fitting the counts to the time budget, and the report's verdict."""

import os

import pytest

from devstack.rss import Plateau, fitting_count, parse_args, read_rss, report, rss_bytes, settled

STATUS = """Name:\tpython
State:\tS (sleeping)
VmPeak:\t  912340 kB
VmRSS:\t  181236 kB
RssAnon:\t  150000 kB
"""


def test_rss_is_read_from_the_vmrss_line_in_bytes():
    assert rss_bytes(STATUS) == 181236 * 1024


def test_a_status_without_rss_names_what_is_missing():
    with pytest.raises(ValueError, match="no VmRSS line"):
        rss_bytes("Name:\tkthreadd\nState:\tS (sleeping)\n")


def test_this_process_has_a_resident_set():
    assert 1 << 20 < read_rss(os.getpid()) < 1 << 40


@pytest.mark.parametrize(("samples", "expected"), [
    ([100, 100, 100, 100], False),  # too few to tell
    ([50, 100, 101, 100, 102, 101], True),  # the last five within 2 %
    ([100, 101, 100, 102, 110], False),  # still growing
    ([110, 100, 100, 100, 100], False),  # still shrinking (a collection)
])
def test_a_plateau_is_five_samples_within_two_percent(samples, expected):
    assert settled(samples) is expected


@pytest.mark.parametrize(("target", "opened", "per_shipment", "left", "expected"), [
    (1000, 100, 0.2, 400, 1000),  # 900 more take 180 s of the 400 left
    (1000, 100, 0.5, 300, 700),  # 600 more fit: lowered to a round hundred
    (1000, 100, 0.5, 230, 500),  # 460 more fit: 560, rounded down
    (1000, 100, 5.0, 100, 100),  # nothing more fits: measure again what is open
    (1000, 0, 0.0, 10, 1000),  # no rate yet: the target as asked
])
def test_a_count_is_lowered_to_what_the_time_left_allows(target, opened, per_shipment, left, expected):
    assert fitting_count(target, opened, per_shipment, left) == expected


def test_the_report_gives_each_plateau_and_the_ratio_against_the_bound():
    mib = 2**20
    lines = report([Plateau(100, 100, 200 * mib, 40), Plateau(1000, 1000, 215 * mib, 300)])
    assert lines[0] == "open_shipments=100 worker_rss_mib=200.0 reached_in_s=40"
    assert lines[-1] == "rss_ratio=1.075 (flat: 100 -> 1000 open, bound 1.10)"
    grown = report([Plateau(100, 100, 200 * mib, 40), Plateau(1000, 500, 260 * mib, 200)])
    assert grown[1] == ("open_shipments=500 worker_rss_mib=260.0 reached_in_s=200 "
                        "(lowered from 1000 to fit the time budget)")
    assert grown[-1] == "rss_ratio=1.300 (NOT flat: 100 -> 500 open, bound 1.10)"


def test_counts_must_rise():
    assert parse_args([]).counts == [100, 1000]
    assert parse_args(["--counts", "100", "500"]).counts == [100, 500]
    with pytest.raises(SystemExit):
        parse_args(["--counts", "1000", "100"])
