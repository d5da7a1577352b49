"""Extension instances, created once and bound to an app in ``create_app``."""

from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_sqlalchemy.session import Session as FlaskSession
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from portal.timed_mail import TimedMail


class Base(DeclarativeBase):
    # Named constraints so Alembic migrations behave the same on SQLite and PostgreSQL.
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class PortalSession(FlaskSession):
    """The class of ``db.session``'s sessions: the portal's session events (the outbox's sends, the
    webhook dispatcher's guard) listen on it, attached by ``create_app``, never on SQLAlchemy's own."""


db = SQLAlchemy(model_class=Base, session_options={"class_": PortalSession})
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address, default_limits=[])
babel = Babel()  # bound with its locale and time zone selectors by portal.i18n.init_app
mail = TimedMail()  # every SMTP connection times out after MAIL_TIMEOUT seconds
