"""A lazy message printed by a template is escaped like any text: its placeholders carry names people
typed (a practice's name), and Flask-Babel's lazy strings call themselves markup."""

from __future__ import annotations

from flask import render_template_string
from flask_babel import lazy_gettext


def test_a_lazy_message_with_a_typed_name_is_escaped(app):
    message = lazy_gettext("%(practice)s: a payment failed", practice='<img src=x onerror="alert(1)">')
    with app.test_request_context():
        page = render_template_string("<p>{{ message }}</p>", message=message)
    assert "<img" not in page
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;: a payment failed" in page


def test_translated_markup_of_the_templates_own_is_kept(app):
    with app.test_request_context():
        page = render_template_string('{{ _("%(name)s left", name="<b>x</b>") }}')
    assert page == "&lt;b&gt;x&lt;/b&gt; left"
