"""A real, minimal PDF for ``invoice_pdf``: one page of text, written by hand (no dependency)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def _escape(text: str) -> str:
    safe = text.encode("latin-1", "replace").decode("latin-1")
    return safe.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


#: How Stripe's invoices name a tax ID's type (the rest: the type in capitals).
TAX_ID_LABELS = {"eu_vat": "EU VAT", "gb_vat": "GB VAT", "us_ein": "US EIN", "vn_tin": "VN TIN"}


def tax_id_label(tax_type: str) -> str:
    return TAX_ID_LABELS.get(tax_type, tax_type.replace("_", " ").upper())


def bill_to(invoice: dict[str, Any]) -> list[str]:
    """The "Bill to" block of an invoice: the customer as the invoice froze it at finalization."""
    address = invoice.get("customer_address") or {}
    city_line = " ".join(part for part in (address.get("postal_code"), address.get("city")) if part)
    rows = [
        invoice.get("customer_name") or invoice["customer"],
        address.get("line1"),
        address.get("line2"),
        ", ".join(part for part in (city_line, address.get("state")) if part),
        address.get("country"),
        invoice.get("customer_email"),
    ]
    rows += [f"{tax_id_label(t['type'])} {t['value']}" for t in invoice.get("customer_tax_ids") or []]
    return [row for row in rows if row]


def credit_note_pdf(note: dict[str, Any], invoice: dict[str, Any], money: Callable[[int, str], str]) -> bytes:
    """A credit note's ``pdf``: its number, the invoice it credits, what it credits and how."""
    currency = note["currency"]
    rows = [
        f"Credit note {note['number']}",
        f"Invoice {invoice.get('number') or invoice['id']}",
        f"Status: {note['status']}",
        "",
        "Bill to:",
        *bill_to(invoice),
        "",
    ]
    rows += [
        f"{(line.get('description') or '')[:70]}    {money(line['amount'], currency)}"
        for line in note["lines"]["data"]
    ]
    refunded = sum(part["amount_refunded"] for part in note.get("refunds") or [])
    rows += [
        "",
        f"Total credited: {money(note['total'], currency)}",
        f"Refunded to the card: {money(refunded, currency)}",
    ]
    if note.get("memo"):
        rows.append(f"Memo: {note['memo'][:80]}")
    return _one_page(rows)


def invoice_pdf(invoice: dict[str, Any], money: Callable[[int, str], str]) -> bytes:
    currency = invoice["currency"]
    lines = [
        f"Invoice {invoice.get('number') or invoice['id']}",
        f"Status: {invoice['status']}",
        "",
        "Bill to:",
        *bill_to(invoice),
        "",
    ]
    for line in invoice["lines"]["data"]:
        lines.append(f"{(line.get('description') or '')[:70]}    {money(line['amount'], currency)}")
    lines += [
        "",
        f"Total: {money(invoice['total'], currency)}",
        f"Amount due: {money(invoice['amount_due'], currency)}",
        f"Amount paid: {money(invoice['amount_paid'], currency)}",
    ]
    return _one_page(lines)


def _one_page(lines: list[str]) -> bytes:
    text = ["BT", "/F1 12 Tf", "16 TL", "56 780 Td"]
    for row in lines:
        text.append(f"({_escape(row)}) Tj T*")
    text.append("ET")
    stream = "\n".join(text).encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        (
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
            b"/Resources << /Font << /F1 5 0 R >> >> >>"
        ),
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)
