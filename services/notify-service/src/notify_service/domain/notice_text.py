"""A notice as people read it: the same words as plain text, as HTML (escaped) and as a chat message (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

SIGNATURE = "Connected Care support"


@dataclass(frozen=True)
class Notice:
    """What one notice says: a subject, paragraphs, and the console page it is about."""

    topic: str  # retirement_warning, sales_request_declined, ticket_reply ... (the delivery log shows it)
    subject: str
    paragraphs: tuple[str, ...]
    link: str
    link_label: str
    footer: str = ""

    def text(self) -> str:
        parts = [*self.paragraphs, f"{self.link_label}: {self.link}"]
        if self.footer:
            parts.append(self.footer)
        return "\n\n".join(parts) + f"\n\n-- \n{SIGNATURE}\n"

    def html(self) -> str:
        body = "".join(f"<p>{escape(p).replace(chr(10), '<br>')}</p>" for p in self.paragraphs)
        action = f'<p><a href="{escape(self.link, quote=True)}">{escape(self.link_label)}</a></p>'
        footer = f'<p style="color:#666;font-size:small">{escape(self.footer)}</p>' if self.footer else ""
        return (
            '<!DOCTYPE html><html><head><meta charset="utf-8">'
            f"<title>{escape(self.subject)}</title></head>"
            f'<body style="font-family:sans-serif">{body}{action}{footer}'
            f'<p style="color:#666">{SIGNATURE}</p></body></html>'
        )

    def chat(self) -> str:
        """One chat message: the subject, the paragraphs and the link (URLs become links on both platforms)."""
        return "\n".join([self.subject, *self.paragraphs, f"{self.link_label}: {self.link}"])
