"""``PortalForm``: the base of every form. Each text field refuses what ``portal.text`` refuses."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import Field, StringField, TextAreaField
from wtforms.validators import StopValidation

from portal.text import text_problem


class PlainText:
    """Refuse control characters, bidi marks and (unless ``multiline``) line breaks; runs first."""

    def __init__(self, multiline: bool = False) -> None:
        self.multiline = multiline

    def __call__(self, form: FlaskForm, field: Field) -> None:
        if isinstance(field.data, str):
            problem = text_problem(field.data, self.multiline)
            if problem:
                raise StopValidation(problem)


class PortalForm(FlaskForm):
    """Every form's base: text fields (names, emails, passwords, hidden keys, textareas) get
    ``PlainText`` without each form having to remember it. tests/edges/test_text_fields.py checks
    that every form derives from this one."""

    class Meta:
        def bind_field(self, form, unbound_field, options):
            field = super().bind_field(form, unbound_field, options)
            if isinstance(field, StringField):
                multiline = isinstance(field, TextAreaField)
                field.validators = [PlainText(multiline), *field.validators]
            return field
