"""A real, minimal PDF for ``invoice_pdf``: one page of text, written by hand (no dependency)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def _escape(text: str) -> str:
    safe = text.encode("latin-1", "replace").decode("latin-1")
    return safe.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def invoice_pdf(invoice: dict[str, Any], money: Callable[[int, str], str]) -> bytes:
    currency = invoice["currency"]
    lines = [
        f"Invoice {invoice.get('number') or invoice['id']}",
        f"Status: {invoice['status']}",
        f"Customer: {invoice.get('customer_name') or invoice.get('customer_email') or invoice['customer']}",
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
