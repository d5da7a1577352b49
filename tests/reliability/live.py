"""A portal served over real sockets by a threaded server, and a logged-in visitor posting its forms.

Concurrent posts use one thread and one HTTP connection each, released together by a barrier,
as a double click, a second tab or a replaying client would reach gunicorn's threads.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from html.parser import HTMLParser

import requests

from tests.factories import DEFAULT_PASSWORD
from tests.serving import portal_server

HOST = "portal.test"  # the test app's SERVER_NAME


@contextmanager
def serve(app) -> Iterator[str]:
    """The app on a free loopback port; its base URL."""
    server = portal_server(app, quiet=True)
    thread = threading.Thread(target=server.serve_forever, name="live-portal", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


class _Forms(HTMLParser):
    """Every form's action and its named inputs (the first value of each name)."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "form":
            self.forms.append((values.get("action") or "", {}))
        elif tag in ("input", "textarea") and self.forms and values.get("name"):
            self.forms[-1][1].setdefault(values["name"], values.get("value") or "")


def forms_of(html: str) -> list[tuple[str, dict[str, str]]]:
    parser = _Forms()
    parser.feed(html)
    return parser.forms


class Visitor:
    """One person's browser: logged in once; each post of a form on its own connection."""

    def __init__(self, base: str, email: str, password: str = DEFAULT_PASSWORD) -> None:
        self.base = base
        self.http = self._session()
        login = self.form("/login", "/login")
        response = self.http.post(
            f"{base}/login", data={**login, "email": email, "password": password}, allow_redirects=False
        )
        assert response.status_code == 302, response.text

    @staticmethod
    def _session(cookies=None) -> requests.Session:
        session = requests.Session()
        session.headers["Host"] = HOST
        if cookies is not None:
            session.cookies.update(cookies)
        return session

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.http.get(f"{self.base}{path}", timeout=30, **kwargs)

    def form(self, path: str, action_ends: str, html: str | None = None) -> dict[str, str]:
        """The fields of the form on ``path`` whose action ends with ``action_ends``, as rendered."""
        html = html if html is not None else self.get(path).text
        for action, fields in forms_of(html):
            if action.endswith(action_ends):
                return fields
        raise AssertionError(f"no form posting to …{action_ends} on {path}")

    def post(self, path: str, data: dict[str, str], *, htmx: bool = True) -> requests.Response:
        headers = {"HX-Request": "true"} if htmx else {}
        return self.http.post(
            f"{self.base}{path}", data=data, headers=headers, allow_redirects=False, timeout=60
        )

    def post_at_once(self, path: str, data: dict[str, str], times: int) -> list[requests.Response]:
        """The same form posted ``times`` times at once, each on its own connection (htmx)."""
        return self.post_each_at_once(path, [data] * times)

    def post_each_at_once(self, path: str, forms: list[dict[str, str]]) -> list[requests.Response]:
        """Each form posted once, all at once, each on its own connection (htmx): tabs racing."""
        barrier = threading.Barrier(len(forms), timeout=30)
        cookies = self.http.cookies.get_dict()

        def post(data: dict[str, str]) -> requests.Response:
            session = self._session(cookies)
            barrier.wait()
            try:
                return session.post(
                    f"{self.base}{path}",
                    data=data,
                    headers={"HX-Request": "true"},
                    allow_redirects=False,
                    timeout=60,
                )
            finally:
                session.close()

        with ThreadPoolExecutor(len(forms)) as pool:
            return list(pool.map(post, forms))
