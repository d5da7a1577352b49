"""Reading a Prometheus exposition as a person reading /metrics would: a sample's value by its labels."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families


def samples(text: str) -> list[tuple[str, dict[str, str], float]]:
    return [
        (sample.name, sample.labels, sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    ]


def value(text: str, name: str, **labels: str) -> float:
    """The sum of ``name``'s samples whose labels include ``labels`` (0 when there is none)."""
    return sum(
        v for n, sample_labels, v in samples(text) if n == name and labels.items() <= sample_labels.items()
    )


def series(text: str, name: str, **labels: str) -> list[dict[str, str]]:
    return [
        sample_labels
        for n, sample_labels, _ in samples(text)
        if n == name and labels.items() <= sample_labels.items()
    ]


def scrape(client, **headers: str) -> str:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)
