"""The portal on a free loopback port, served by werkzeug as gunicorn serves it in production.

One request per connection (HTTP/1.0): werkzeug closes each response as soon as it is sent, which
is when the portal's after-response work runs (emails, the new account's Stripe customer; see
``portal.after_response``). On a kept-alive connection werkzeug first drains the socket for the next
request, so that work would wait until the browser let the connection go.
"""

from __future__ import annotations

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server


class OneRequestPerConnection(WSGIRequestHandler):
    protocol_version = "HTTP/1.0"


class QuietOneRequestPerConnection(OneRequestPerConnection):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


def portal_server(app, *, quiet: bool = False) -> BaseWSGIServer:
    """A threaded server for ``app`` on a free loopback port (not yet serving)."""
    handler = QuietOneRequestPerConnection if quiet else OneRequestPerConnection
    return make_server("127.0.0.1", 0, app, threaded=True, request_handler=handler)
