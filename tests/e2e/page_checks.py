"""What is wrong with a page as it stands in Chromium: sideways scrolling, a box its content spills
out of, duplicate element ids, serious or critical axe-core violations (WCAG 2.0/2.1/2.2 A and AA).

The every-page sweep runs it on every listed page; a journey runs it on a page the sweep cannot
reach (one that needs live Stripe state). axe-core comes from its npm package (``tests/e2e/axe/``,
installed by ``make test``) and is evaluated through the DevTools protocol, so the portal's CSP
(script-src 'self') stays as it is.
"""

from __future__ import annotations

from pathlib import Path

AXE = Path(__file__).parent / "axe" / "node_modules" / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]

_DUPLICATE_IDS = """() => {
  const seen = {};
  for (const el of document.querySelectorAll('[id]')) seen[el.id] = (seen[el.id] || 0) + 1;
  return Object.entries(seen).filter(([, n]) => n > 1).map(([id]) => id);
}"""
_OVERFLOW = "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
#: A box whose content runs out of it (under its neighbour) though the page itself fits.
_SPILLS = """() => [...document.querySelectorAll('.card, .banner, .flash, .topbar, main')]
  .filter(el => el.scrollWidth > el.clientWidth + 1)
  .map(el => `${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}.${el.className}: `
    + `${el.scrollWidth}px in ${el.clientWidth}px`)"""
_AXE_RUN = """async (tags) => {
  const result = await axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']});
  return result.violations.map(v => ({id: v.id, impact: v.impact,
    nodes: v.nodes.slice(0, 3).map(n => n.target.join(' ') + ': ' + n.failureSummary.split('\\n')[1])}));
}"""


def check_view(page) -> list[str]:
    """What is wrong with the page as it stands."""
    problems = []
    scroll_width, client_width = page.evaluate(_OVERFLOW)
    if scroll_width > client_width:
        problems.append(f"{scroll_width}px wide")
    problems += [f"spills: {box}" for box in page.evaluate(_SPILLS)]
    duplicates = page.evaluate(_DUPLICATE_IDS)
    if duplicates:
        problems.append(f"duplicate ids {duplicates}")
    if page.evaluate("typeof axe") == "undefined":
        page.evaluate(AXE.read_text())
    for violation in page.evaluate(_AXE_RUN, AXE_TAGS):
        if violation["impact"] in ("serious", "critical"):
            problems.append(f"axe {violation['id']} ({violation['impact']}): {violation['nodes']}")
    return problems
