"""The OpenAPI 3.1 document for the JSON API, served at ``/openapi.json``."""

from __future__ import annotations


def _envelope(data_schema: dict) -> dict:
    return {
        "type": "object",
        "required": ["success", "timestamp", "data"],
        "properties": {
            "success": {"const": True},
            "timestamp": {"type": "string", "format": "date-time"},
            "data": data_schema,
        },
    }


def _json(schema: dict) -> dict:
    return {"content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict:
    return {str(code): {"$ref": f"#/components/responses/Error{code}"} for code in codes}


_ERROR_TEXT = {
    400: "Bad input",
    401: "Missing, invalid, expired or revoked token",
    402: "Card declined or authentication needed",
    403: "Not your account, or (changing the email) currentPassword missing or wrong",
    404: "Not found",
    409: "Conflict (out of stock, owner of a billed practice, default card in use)",
    429: "Too many requests",
    503: "Stripe unavailable; try again",
}

USER = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": "string"},
        "email": {"type": "string", "format": "email"},
        "role": {"enum": ["user", "admin"]},
        "stripeCustomerId": {"type": ["string", "null"]},
        "isEmailVerified": {"type": "boolean"},
    },
}
ENTITLEMENT = {
    "type": "object",
    "required": ["practice_id", "status", "access", "until", "plan"],
    "properties": {
        "practice_id": {"type": "integer"},
        "status": {"enum": ["REQUIRED", "DONE", "PAST_DUE", "INACTIVE", "CANCELLED"]},
        "access": {"type": "boolean"},
        "until": {"type": ["string", "null"], "format": "date-time"},
        "plan": {"enum": ["monthly", "semiannual", None]},
    },
}
CARD = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "type": {"const": "card"},
        "customer": {"type": "string"},
        "isDefault": {"type": "boolean"},
        "card": {
            "type": "object",
            "properties": {
                "brand": {"type": "string"},
                "last4": {"type": "string"},
                "exp_month": {"type": "integer"},
                "exp_year": {"type": "integer"},
            },
        },
    },
}
PM_BODY = {
    "required": True,
    **_json(
        {
            "type": "object",
            "required": ["paymentMethodId"],
            "properties": {"paymentMethodId": {"type": "string"}},
        }
    ),
}
USER_ID = [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}]
PRACTICE_ID = [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}]
SECURED = [{"bearer": []}]

OPENAPI_DOCUMENT: dict = {
    "openapi": "3.1.0",
    "info": {"title": "Practice Billing Portal API", "version": "1.0.0"},
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            "Error": {
                "type": "object",
                "required": ["success", "timestamp", "error"],
                "properties": {
                    "success": {"const": False},
                    "timestamp": {"type": "string", "format": "date-time"},
                    "error": {
                        "type": "object",
                        "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
                    },
                },
            }
        },
        "responses": {
            f"Error{code}": {"description": text, **_json({"$ref": "#/components/schemas/Error"})}
            for code, text in _ERROR_TEXT.items()
        },
    },
    "paths": {
        "/users": {
            "post": {
                "summary": "Register. The same 202 answer whether or not the email has an account (its owner "
                "is emailed instead); no token here: get one from POST /auth/login. Throttled per client "
                "address (REGISTER_THROTTLE) and per email (REGISTER_EMAIL_THROTTLE).",
                "requestBody": {
                    "required": True,
                    **_json(
                        {
                            "type": "object",
                            "required": ["name", "email", "password"],
                            "properties": {
                                "name": {"type": "string"},
                                "email": {"type": "string"},
                                "password": {"type": "string", "minLength": 10},
                            },
                        }
                    ),
                },
                "responses": {
                    "202": {
                        "description": "Accepted: an email went to the address (a confirmation link for a "
                        "new account, a note to the owner of an existing one)",
                        **_json(
                            _envelope(
                                {
                                    "type": "object",
                                    "properties": {
                                        "email": {"type": "string"},
                                        "message": {"type": "string"},
                                    },
                                }
                            )
                        ),
                    },
                    **_errors(400, 429),
                },
            }
        },
        "/auth/login": {
            "post": {
                "summary": "Exchange email and password for an access token",
                "responses": {
                    "200": {"description": "Token", **_json(_envelope({"type": "object"}))},
                    **_errors(400, 401, 429),
                },
            }
        },
        "/auth/logout": {
            "post": {
                "summary": "Revoke the token used",
                "security": SECURED,
                "responses": {"200": {"description": "Revoked"}, **_errors(401)},
            }
        },
        "/users/{id}": {
            "parameters": USER_ID,
            "get": {
                "summary": "A user (yourself, or anyone for admins)",
                "security": SECURED,
                "responses": {
                    "200": {"description": "User", **_json(_envelope(USER))},
                    **_errors(401, 403, 404),
                },
            },
            "patch": {
                "summary": (
                    "Update the name (synced to the Stripe customer); a new email is emailed a link and "
                    "changes when it is followed (emailChangePending)"
                ),
                "description": (
                    "Asking for a new email needs currentPassword (the caller's password; error code "
                    "current_password_required otherwise). Wrong current passwords are limited per account "
                    "(CURRENT_PASSWORD_THROTTLE, shared with the web forms that ask for it) and email-change "
                    "requests per account and per new address (EMAIL_CHANGE_THROTTLE): 429 once over. When "
                    "the link is followed, every access token and every other login session of the account "
                    "is revoked."
                ),
                "security": SECURED,
                "requestBody": _json(
                    {
                        "type": "object",
                        "properties": {
                            "name": {"type": "string"},
                            "email": {"type": "string"},
                            "currentPassword": {"type": "string", "format": "password"},
                        },
                    }
                ),
                "responses": {
                    "200": {"description": "Updated", **_json(_envelope(USER))},
                    **_errors(400, 401, 403, 404, 429),
                },
            },
            "delete": {
                "summary": "Delete the user and the Stripe customer",
                "description": (
                    "Revokes every access token and login session and ends every membership. "
                    "409 (code owns_practice) while the user owns a practice whose subscription still "
                    "bills: transfer ownership on the practice's People tab or cancel the subscription first."
                ),
                "security": SECURED,
                "responses": {"200": {"description": "Deleted"}, **_errors(401, 403, 404, 409)},
            },
        },
        "/api/practices/{id}/entitlement": {
            "parameters": PRACTICE_ID,
            "get": {
                "summary": "Whether the practice may use the service, and until when",
                "description": (
                    "access follows the billing status (README, Billing status: the Access column): true "
                    "for DONE and PAST_DUE (while Stripe retries). until is the end of the paid period (or "
                    "the scheduled end of a cancelled subscription) while DONE, else null. The token's user "
                    "must be a member of the practice: any other id answers 404, like an unknown one."
                ),
                "security": SECURED,
                "responses": {
                    "200": {"description": "Entitlement", **_json(_envelope(ENTITLEMENT))},
                    **_errors(401, 404),
                },
            },
        },
        "/payments/customer/payment-methods": {
            "get": {
                "summary": "Saved cards",
                "security": SECURED,
                "responses": {
                    "200": {"description": "Cards", **_json(_envelope({"type": "array", "items": CARD}))},
                    **_errors(401),
                },
            },
            "post": {
                "summary": "Attach a payment method created by Stripe.js",
                "security": SECURED,
                "requestBody": PM_BODY,
                "responses": {
                    "201": {"description": "Attached", **_json(_envelope(CARD))},
                    **_errors(400, 401, 404, 503),  # another customer's card: 404, as for none
                },
            },
        },
        "/payments/customer/payment-methods/{paymentMethodId}": {
            "delete": {
                "summary": "Detach a saved card",
                "security": SECURED,
                "parameters": [
                    {"name": "paymentMethodId", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "responses": {"200": {"description": "Detached"}, **_errors(401, 404, 409, 503)},
            }
        },
        "/payments/customer/default-payment-method": {
            "patch": {
                "summary": "Make a saved card the default",
                "security": SECURED,
                "requestBody": PM_BODY,
                "responses": {
                    "200": {"description": "Default set", **_json(_envelope(CARD))},
                    **_errors(400, 401, 404, 503),
                },
            }
        },
        "/payments/create-intent": {
            "post": {
                "summary": "Buy a product with a saved card (the default unless paymentMethodId is sent)",
                "security": SECURED,
                "requestBody": {
                    "required": True,
                    **_json(
                        {
                            "type": "object",
                            "required": ["productId"],
                            "properties": {
                                "productId": {"type": "integer"},
                                "quantity": {"type": "integer", "minimum": 1, "default": 1},
                                "currency": {"type": "string"},
                                "paymentMethodId": {"type": "string"},
                            },
                        }
                    ),
                },
                "responses": {
                    "201": {
                        "description": "Order created: paid, or a clientSecret for Stripe.js to act on",
                        **_json(_envelope({"type": "object"})),
                    },
                    **_errors(400, 401, 402, 404, 409, 503),
                },
            }
        },
        "/payments/customer/setup-intent": {
            "post": {
                "summary": "A SetupIntent client secret for Stripe.js confirmCardSetup",
                "security": SECURED,
                "responses": {
                    "201": {"description": "Created", **_json(_envelope({"type": "object"}))},
                    **_errors(401, 503),
                },
            }
        },
    },
}
