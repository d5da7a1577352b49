"""Every Stripe call the suite's portal made, checked by the sandbox in strict mode: 0 rejected.

Each sandbox the portal talks to in the suite (the session one, the browser journeys' one) runs
with strict mode and Stripe's rate limit on (the defaults). At the end its request log
(``GET /_sandbox/requests``) says how many calls it saw, to how many endpoints, and which it
rejected as Stripe would (an unknown parameter, a bad enum value, a bad ``expand``...); a single
rejection fails the run, listed. The figure is printed with the run's summary.
"""

from __future__ import annotations

from typing import Any

import pytest

FIGURES: list[str] = []


def check_no_rejections(name: str, seen: dict[str, Any]) -> None:
    rejected = seen["rejected"]
    FIGURES.append(
        f"STRICT {name}: {seen['calls']} Stripe calls to {len(seen['endpoints'])} distinct endpoints, "
        f"rejected={len(rejected)}, rate limited (429, retried)={seen.get('rate_limited', 0)}"
    )
    if rejected:
        listing = "\n".join(
            f"  {r['endpoint']} {r['path']}: {r['message']} (param {r['param']})" for r in rejected
        )
        pytest.fail(f"the strict sandbox rejected {len(rejected)} Stripe call(s) of {name}:\n{listing}")


def write_figures(terminalreporter: Any) -> None:
    for line in FIGURES:
        terminalreporter.write_line(line)
