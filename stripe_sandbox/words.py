"""The hosted pages' words (Checkout, the invoice page, 3-D Secure) in the languages they show.

Stripe shows its hosted pages in the Checkout Session's ``locale`` (``auto``, or none: the
browser's), the invoice page in the customer's ``preferred_locales``, and its 3-D Secure page in
the payer's language; the sandbox does the same for English and Vietnamese. Its own small table,
in Stripe's wording: the sandbox never imports the portal (nor its catalogues). Amounts read as
the locale writes them (Babel's CLDR data): ``$99.00`` in English, ``99,00 US$`` and
``499.000 ₫`` in Vietnamese.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal

from babel.numbers import format_currency

from stripe_sandbox.currencies import exponent, format_amount

#: The languages of the hosted pages; the first is the default.
LOCALES = ("en", "vi")

#: Every English text of the hosted pages, in Vietnamese (Stripe's own Vietnamese pages' wording).
VIETNAMESE = {
    "Stripe sandbox": "Stripe sandbox",
    "test mode · not real Stripe": "chế độ thử nghiệm · không phải Stripe thật",
    "Checkout": "Thanh toán",
    "This checkout session is %(status)s.": "Phiên thanh toán này đã %(status)s.",
    "open": "mở",
    "complete": "hoàn tất",
    "expired": "hết hạn",
    "every %(count)s %(interval)s": "mỗi %(count)s %(interval)s",
    "Discount": "Giảm giá",
    "Total due today": "Tổng số tiền phải trả hôm nay",
    "1 day free": "Miễn phí 1 ngày",
    "%(days)s days free": "Miễn phí %(days)s ngày",
    "Then %(amount)s after the trial": "Sau thời gian dùng thử: %(amount)s",
    "Add promotion code": "Thêm mã khuyến mại",
    "Apply": "Áp dụng",
    "Email": "Email",
    "Card number": "Số thẻ",
    "Expiration date": "Ngày hết hạn",
    "CVC": "CVC",
    "MM / YY": "MM / YY",
    "Name on card": "Tên chủ thẻ",
    "Billing address": "Địa chỉ thanh toán",
    "Address line 1": "Địa chỉ dòng 1",
    "Address line 2": "Địa chỉ dòng 2",
    "City": "Thành phố",
    "Postal code": "Mã bưu chính",
    "State or province": "Tỉnh hoặc bang",
    "Country (2 letters)": "Quốc gia (2 chữ cái)",
    "Purchasing as a business (optional)": "Mua hàng với tư cách doanh nghiệp (không bắt buộc)",
    "Business name": "Tên doanh nghiệp",
    "Tax ID type": "Loại mã số thuế",
    "Tax ID": "Mã số thuế",
    "Pay": "Thanh toán",
    "Cancel and go back": "Huỷ và quay lại",
    "3D Secure test authentication": "Xác thực 3D Secure thử nghiệm",
    "3D Secure 2 test page": "Trang thử nghiệm 3D Secure 2",
    "Authentication completed. You can close this window.": "Đã xác thực xong. Bạn có thể đóng cửa sổ này.",
    "Authentication failed. You can close this window.": (
        "Xác thực không thành công. Bạn có thể đóng cửa sổ này."
    ),
    "This payment no longer needs authentication (status: %(status)s).": (
        "Khoản thanh toán này không còn cần xác thực (trạng thái: %(status)s)."
    ),
    "This is a test authentication page for %(amount)s. In live mode your bank would ask you to confirm.": (
        "Đây là trang xác thực thử nghiệm cho %(amount)s. Ở chế độ thật, ngân hàng sẽ yêu cầu bạn xác nhận."
    ),
    "saving your card": "lưu thẻ của bạn",
    "Your bank needs you to confirm this payment. This is a test page: choose the outcome.": (
        "Ngân hàng cần bạn xác nhận khoản thanh toán này. Đây là trang thử nghiệm: hãy chọn kết quả."
    ),
    "Complete": "Hoàn tất",
    "Fail": "Thất bại",
    "Invoice %(number)s": "Hoá đơn %(number)s",
    "Status:": "Trạng thái:",
    "draft": "nháp",
    "paid": "đã thanh toán",
    "void": "đã huỷ",
    "uncollectible": "không thu được",
    "Bill to": "Gửi hoá đơn cho",
    "Amount due": "Số tiền phải trả",
    "Amount paid": "Số tiền đã trả",
    "Download PDF": "Tải PDF",
    "Your bank needs you to confirm this payment.": "Ngân hàng cần bạn xác nhận khoản thanh toán này.",
    "Complete authentication": "Hoàn tất xác thực",
    "Pay with a card": "Thanh toán bằng thẻ",
    "Pay %(amount)s": "Thanh toán %(amount)s",
    "day": "ngày",
    "week": "tuần",
    "month": "tháng",
    "year": "năm",
    "days": "ngày",
    "weeks": "tuần",
    "months": "tháng",
    "years": "năm",
    "Secure card input": "Nhập thẻ an toàn",
    "Expiry": "Hết hạn",
    # The card element's messages (``card-element.js``), as Stripe.js says them in Vietnamese.
    "Your card number is invalid.": "Số thẻ của bạn không hợp lệ.",
    "Your card number is incomplete.": "Số thẻ của bạn chưa đầy đủ.",
    "Your card's expiration date is incomplete.": "Ngày hết hạn của thẻ chưa đầy đủ.",
    "Your card's expiration year is in the past.": "Năm hết hạn của thẻ đã qua.",
    "Your card's security code is incomplete.": "Mã bảo mật của thẻ chưa đầy đủ.",
    "Could not reach the payment server.": "Không thể kết nối tới máy chủ thanh toán.",
    # Stripe's decline messages, as its Vietnamese Checkout says them.
    "Your card was declined.": "Thẻ của bạn đã bị từ chối.",
    "Your card has insufficient funds.": "Thẻ của bạn không đủ tiền.",
    "Your card has expired.": "Thẻ của bạn đã hết hạn.",
    "Your card's security code is incorrect.": "Mã bảo mật của thẻ không đúng.",
    "Your card number is incorrect.": "Số thẻ của bạn không đúng.",
    "An error occurred while processing your card. Try again in a little bit.": (
        "Đã xảy ra lỗi khi xử lý thẻ của bạn. Vui lòng thử lại sau ít phút."
    ),
    "We are unable to authenticate your payment method. Please choose a different payment method.": (
        "Chúng tôi không thể xác thực phương thức thanh toán của bạn. "
        "Vui lòng chọn phương thức thanh toán khác."
    ),
}

_TABLES = {"vi": VIETNAMESE}


def page_locale(chosen: Iterable[str | None], browser: Callable[[tuple[str, ...]], str | None]) -> str:
    """The first of ``chosen`` the pages are written in (``vi-VN`` reads as ``vi``; ``auto`` and
    none skip), else the browser's best match (``Accept-Language``), else English."""
    for value in chosen:
        base = (value or "").split("-")[0].lower()
        if base in LOCALES:
            return base
    return browser(LOCALES) or LOCALES[0]


def translator(locale: str) -> Callable[..., str]:
    """``t("Pay %(amount)s", amount=...)`` in ``locale`` (English for a text it lacks)."""
    table = _TABLES.get(locale, {})

    def t(text: str, **values: object) -> str:
        said = table.get(text, text)
        return said % values if values else said

    return t


#: The card element's own messages (``card-element.js``) and the API's it shows (declines).
CARD_MESSAGES = (
    "Your card number is invalid.",
    "Your card number is incomplete.",
    "Your card's expiration date is incomplete.",
    "Your card's expiration year is in the past.",
    "Your card's security code is incomplete.",
    "Could not reach the payment server.",
    "Your card was declined.",
    "Your card has insufficient funds.",
    "Your card has expired.",
    "Your card's security code is incorrect.",
    "Your card number is incorrect.",
)


def messages_in(locale: str) -> dict[str, str]:
    """The card element's messages in ``locale`` (none in English: they are the English)."""
    table = _TABLES.get(locale, {})
    return {text: table[text] for text in CARD_MESSAGES if text in table}


def money_in(locale: str) -> Callable[[int, str], str]:
    """``money(amount, currency)`` as ``locale`` writes it: English keeps the sandbox's own
    (``$99.00``, ``250,000 VND``); other languages Babel's (``99,00 US$``, ``250.000 ₫``)."""

    def money(amount: int, currency: str) -> str:
        currency = (currency or "usd").lower()
        if locale == LOCALES[0]:
            return f"{'-' if amount < 0 else ''}{format_amount(abs(amount), currency)}"
        value = Decimal(int(amount)).scaleb(-exponent(currency))
        return format_currency(value, currency.upper(), locale=locale)

    return money
