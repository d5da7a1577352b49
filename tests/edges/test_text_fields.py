"""Text fields refuse control characters, line breaks (one-line fields) and bidi marks (finding 14).

Every form derives from ``PortalForm``, so every text field of every form carries the rule; the
JSON API applies it to every string of a body. Accented and Vietnamese text still goes through.
"""

from __future__ import annotations

import pytest
from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict
from wtforms import StringField, TextAreaField

from portal.auth import api_tokens as tokens
from portal.extensions import db
from portal.forms import PortalForm
from portal.practices.models import Practice
from portal.text import BIDI, BLANK, CONTROL, NOT_TEXT, ONE_LINE, ZERO_WIDTH_MESSAGE, text_problem
from portal.users.models import User
from tests.auth.conftest import field_errors, submit
from tests.conftest import IsolatedClient, both_engines

VIETNAMESE = "Phòng khám Nha khoa Sài Gòn"
#: (value, the message a one-line field answers with)
REFUSED = [
    ("Ada\x00Lovelace", CONTROL),
    ("Ada\r\nBcc: everyone@example.com", ONE_LINE),
    ("Ada\nLovelace", ONE_LINE),
    ("Ada\tLovelace", CONTROL),
    ("Ada\x1b[31mLovelace", CONTROL),
    ("Ada\x85Lovelace", ONE_LINE),
    ("Ada\u2028Lovelace", ONE_LINE),
    ("Clinic\u202egnp.exe", BIDI),
    ("Clinic\u2066x\u2069", BIDI),
    ("Clinic\u200fx", BIDI),
]
#: What a multi-line field (a textarea) answers instead: its lines and tabs are welcome.
MULTI_LINE = {
    "Ada\r\nBcc: everyone@example.com": None,
    "Ada\nLovelace": None,
    "Ada\tLovelace": None,
    "Ada\u2028Lovelace": None,
    "Ada\x85Lovelace": CONTROL,
}


REFUSED_MESSAGES = {ONE_LINE, CONTROL, BIDI, NOT_TEXT}


def _all_subclasses(cls: type) -> list[type]:
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *_all_subclasses(sub)]
    return found


def portal_forms(app) -> list[type]:
    """Every form class of the portal (the app has imported every view, so every form)."""
    return sorted(
        {form for form in _all_subclasses(FlaskForm) if form.__module__.startswith("portal.")},
        key=lambda form: form.__qualname__,
    )


def test_every_form_derives_from_the_portal_form(app):
    forms = portal_forms(app)
    assert len(forms) >= 12
    assert [form.__qualname__ for form in forms if not issubclass(form, PortalForm)] == []


def test_every_text_field_of_every_form_refuses_hidden_characters(app):
    checked = 0
    for form_class in portal_forms(app):
        with app.test_request_context(method="POST"):
            text_fields = [
                name
                for name, field in form_class(meta={"csrf": False})._fields.items()
                if isinstance(field, StringField)
            ]
        for name in text_fields:
            for value, message in REFUSED:
                with app.test_request_context(method="POST"):
                    form = form_class(formdata=MultiDict({name: value}), meta={"csrf": False})
                    form.validate()
                    if isinstance(form[name], TextAreaField):
                        message = MULTI_LINE.get(value, message)
                    first_error = form.errors.get(name, [None])[0]
                    assert (first_error == message) if message else (first_error not in REFUSED_MESSAGES), (
                        form_class.__name__,
                        name,
                        repr(value),
                    )
                    checked += 1
    assert checked >= 150


def test_multi_line_fields_keep_their_lines_and_tabs(app):
    from portal.practices.forms import CancelForm

    with app.test_request_context(method="POST"):
        form = CancelForm(
            formdata=MultiDict({"reason": "Too dear.\r\n\tWe merged with Sài Gòn."}), meta={"csrf": False}
        )
        assert form.validate(), form.errors


@both_engines
@pytest.mark.parametrize(("value", "message"), REFUSED[:3] + REFUSED[-3:-2])
def test_the_profile_refuses_a_hidden_character_with_a_message(logged_in, user, value, message):
    response = submit(logged_in, "/account/profile", {"name": value, "email": user.email})
    assert response.status_code == 422
    assert field_errors(response.get_data(as_text=True), "name") == [message.replace("'", "&#39;")]
    db.session.expire_all()
    assert db.session.get(User, user.id).name == user.name


@both_engines
def test_registration_refuses_a_line_break_in_the_name(client, app):
    response = submit(
        client,
        "/register",
        {
            "name": "Eve\r\nBcc: all@example.com",
            "email": "eve@example.com",
            "password": "a-long-password",
            "confirm": "a-long-password",
        },
    )
    assert response.status_code == 422
    assert ONE_LINE in response.get_data(as_text=True)
    assert db.session.query(User).filter_by(email="eve@example.com").count() == 0


@both_engines
def test_accented_and_vietnamese_names_still_work(logged_in, user, app):
    response = submit(logged_in, "/account/profile", {"name": "Nguyễn Thị Minh Khai", "email": user.email})
    assert response.status_code == 302
    response = submit(logged_in, "/practices/", {"name": VIETNAMESE}, form_page="/practices/")
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(User, user.id).name == "Nguyễn Thị Minh Khai"
    assert db.session.query(Practice).filter_by(name=VIETNAMESE).count() == 1


@both_engines
def test_a_practice_name_with_a_bidi_override_is_refused(logged_in):
    response = submit(logged_in, "/practices/", {"name": "Clinic\u202egnp.exe"}, form_page="/practices/")
    assert response.status_code == 422
    assert BIDI.replace("'", "&#39;") in response.get_data(as_text=True)
    assert db.session.query(Practice).count() == 0


@both_engines
def test_the_api_refuses_hidden_characters_in_every_string(app, user):
    client = IsolatedClient(app, app.response_class)
    bearer = {"Authorization": f"Bearer {tokens.issue_token(user)}"}
    cases = [
        (
            "POST",
            "/users",
            {"name": "Eve\x00", "email": "eve@example.com", "password": "a-long-password"},
            {},
        ),
        ("POST", "/auth/login", {"email": "a\x00@example.com", "password": "x"}, {}),
        ("PATCH", f"/users/{user.id}", {"name": "Ada\r\nLovelace"}, bearer),
        ("PATCH", f"/users/{user.id}", {"name": "Clinic\u202egnp"}, bearer),
        ("POST", "/payments/customer/payment-methods", {"paymentMethodId": "pm_\x00x"}, bearer),
        ("PATCH", f"/users/{user.id}", {"name": "ok", "nested": {"deep": ["\ud800"]}}, bearer),
    ]
    for method, path, body, headers in cases:
        response = client.open(path, method=method, json=body, headers=headers)
        error = response.get_json()["error"]
        assert (response.status_code, error["code"]) == (400, "validation_error"), (path, body)
    assert NOT_TEXT in error["message"] and error["message"].startswith("nested.deep[0]:")
    accepted = client.patch(f"/users/{user.id}", json={"name": VIETNAMESE}, headers=bearer)
    assert accepted.status_code == 200 and accepted.get_json()["data"]["name"] == VIETNAMESE


@both_engines
def test_a_nul_in_the_address_is_a_400_not_a_database_error(app, user):
    client = IsolatedClient(app, app.response_class)
    bearer = {"Authorization": f"Bearer {tokens.issue_token(user)}"}
    response = client.delete("/payments/customer/payment-methods/pm_%00x", headers=bearer)
    assert response.status_code == 400
    assert "NUL" in response.get_json()["error"]["message"]


INVISIBLE_NAMES = {
    "\u200b\u200b\u200b": ZERO_WIDTH_MESSAGE,
    "A\ufeffB": ZERO_WIDTH_MESSAGE,
    "\u3164\u3164": BLANK,
    "\u2800": BLANK,
    "\u115f\u1160": BLANK,
    "Clin\u034fic": ZERO_WIDTH_MESSAGE,
}


@pytest.mark.parametrize("name", INVISIBLE_NAMES)
def test_a_name_that_shows_nothing_is_refused(logged_in, name):
    """Found by the outside attack: a practice named "\u200b\u200b\u200b" made banners read
    ": billing required"."""
    response = submit(logged_in, "/practices/", {"name": name}, form_page="/practices/")
    assert response.status_code == 422
    assert INVISIBLE_NAMES[name] in response.get_data(as_text=True)
    assert db.session.query(Practice).count() == 0


def test_names_in_every_script_still_go_through():
    for name in (
        VIETNAMESE,
        "नमस्ते",
        "👩\u200d⚕️ Dr. Lan",
        "\u0645\u062d\u0645\u062f\u200c\u0631\u0636\u0627",
        "Zoë",
        "   ",
    ):
        assert text_problem(name) is None, name
