"""The renewal storm's readings: what it counts as an answer, a failure and drift (no servers started)."""

from __future__ import annotations

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
