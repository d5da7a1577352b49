"""The renewal storm's readings: what it counts as an answer, a failure and drift (no servers started)."""

from __future__ import annotations

import sqlite3
import time

import pytest

from bench import storm
from bench.harness import Figure


class _Stack:
    def __init__(self, output: str) -> None:
        self.output = output

    def flask(self, *args: str) -> str:
        assert args[:3] == ("billing", "reconcile", "--since")
        return self.output


def test_only_webhook_answers_are_read_from_the_access_log(tmp_path):
    log = tmp_path / "access.log"
    log.write_text(
        "/webhooks/stripe 200 12000\n/_bench/webhook 200 900\n/webhooks/stripe 500 48000\n/healthz 200 100\n"
    )
    assert storm._webhook_answers(log, "/webhooks/stripe") == [(200, 12.0), (500, 48.0)]


@pytest.mark.parametrize(
    ("tail", "drift"),
    [
        ("no drift: 501 checked", 0),
        ("3 differences in 2 of 501; 4 events missing. Run with --fix to repair.", 7),
    ],
)
def test_drift_counts_differences_and_missing_events(tail, drift):
    assert storm._drift(_Stack(f"Comparing with Stripe\n{tail}\n"), since=0) == drift


def test_an_unreadable_reconcile_answer_is_an_error_not_zero_drift():
    with pytest.raises(RuntimeError):
        storm._drift(_Stack("Traceback (most recent call last):\nboom\n"), since=0)


def test_queue_mode_without_a_queue_is_reported_not_measured(monkeypatch, capsys):
    class Run:
        quick = True
        queue = True

    measured: list[bool] = []

    def fake_storm(practices, *, queue, quick):
        measured.append(queue)
        yield Figure("storm.events_per_s", 1.0, "events/s", ">=", 0)

    monkeypatch.setattr(storm, "_storm", fake_storm)
    monkeypatch.setattr(storm, "queue_supported", lambda: False)
    figures = list(storm.storm(Run()))
    assert measured == [False]
    assert [f.name for f in figures] == ["storm.events_per_s"]
    assert "NOT MEASURED storm.queue.*: no queue" in capsys.readouterr().out


def test_queue_only_measures_queue_mode_alone(monkeypatch):
    class Run:
        quick = True
        queue = True

    measured: list[bool] = []

    def fake_storm(practices, *, queue, quick):
        measured.append(queue)
        yield Figure("storm.queue.events_per_s" if queue else "storm.events_per_s", 1.0, "events/s", ">=", 0)

    monkeypatch.setattr(storm, "_storm", fake_storm)
    monkeypatch.setattr(storm, "queue_supported", lambda: True)
    monkeypatch.setenv("BENCH_STORM_QUEUE_ONLY", "1")
    assert [f.name for f in storm.storm(Run())] == ["storm.queue.events_per_s"]
    assert measured == [True]


def test_queue_mode_waits_until_no_event_is_left_to_run(tmp_path):
    path = tmp_path / "portal.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE webhook_events (status TEXT)")
        conn.executemany("INSERT INTO webhook_events VALUES (?)", [("processed",), ("failed",), ("failed",)])
    assert storm._wait_until_applied(f"sqlite:///{path}", timeout=5) == 2
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO webhook_events VALUES ('received')")
    started = time.monotonic()
    storm._wait_until_applied(f"sqlite:///{path}", timeout=1)  # gives up at the deadline, not before
    assert time.monotonic() - started >= 1
