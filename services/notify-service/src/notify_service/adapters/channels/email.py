"""Email over SMTP (aiosmtplib): one message per group, plain text."""

from __future__ import annotations

from collections.abc import Sequence
from email.message import EmailMessage

import aiosmtplib

from care_schemas.catalogue import ChannelType
from care_schemas.events.alert import Alert
from notify_service.adapters.channels.base import Channel, Rendered, SendContext, Target
from notify_service.config import Settings
from notify_service.domain.classify import Outcome, Verdict, classify_error
from notify_service.domain.ratelimit import Limits, TokenBucket
from notify_service.domain.text import headline, line, more_line, pack

BODY_CHARS = 200_000


def render(alerts: Sequence[Alert], target: Target, settings: Settings, test: bool) -> Rendered:
    [text], covered = pack([line(a) for a in alerts], chunk_chars=BODY_CHARS, max_chunks=1, total_chars=BODY_CHARS)
    more = len(alerts) - covered
    links = [f"{a.fingerprint}: {a.link}" for a in alerts[:covered] if a.link]
    body = text + (f"\n{more_line(more)}" if more else "") + ("\n\nLinks:\n" + "\n".join(links) if links else "")
    subject = " ".join(f"[Connected Care] {headline(alerts[:covered], more)}".split())
    return Rendered({"subject": subject[:250], "text": body + "\n"}, covered)


async def send_mail(settings: Settings, to: str, subject: str, text: str, html: str | None = None) -> Outcome:
    """Send one email (plain text, or text and HTML as multipart/alternative when `html` is given; `to` may list
    several addresses separated by commas); SMTP 5xx is permanent, 4xx and network errors are retried."""
    msg = EmailMessage()
    # alert and ticket fields may carry line breaks, which a header must not (nor inject other headers with)
    msg["From"], msg["To"], msg["Subject"] = settings.smtp_from, to, " ".join(subject.split())
    msg.set_content(text)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    try:
        await aiosmtplib.send(
            msg,
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            start_tls=settings.smtp_starttls,
            timeout=settings.delivery_timeout_s,
        )
    except aiosmtplib.SMTPRecipientsRefused as exc:
        codes = [r.code for r in exc.recipients]
        verdict = Verdict.PERMANENT if codes and all(c >= 500 for c in codes) else Verdict.RETRY
        return Outcome(verdict, f"SMTP refused recipient: {exc}", codes[0] if codes else None)
    except aiosmtplib.SMTPResponseException as exc:
        verdict = Verdict.PERMANENT if 500 <= exc.code < 600 else Verdict.RETRY
        return Outcome(verdict, f"SMTP {exc.code}: {exc.message}", exc.code)
    except (aiosmtplib.SMTPException, TimeoutError, OSError) as exc:
        return classify_error(exc)
    return Outcome(Verdict.OK, "SMTP 250 accepted", 250)


async def send(ctx: SendContext, target: Target, message: Rendered) -> Outcome:
    return await send_mail(ctx.settings, target.config["address"], message.payload["subject"], message.payload["text"])


def limits(settings: Settings) -> Limits:
    return Limits([TokenBucket(settings.email_rate_per_s, 5)])


CHANNEL = Channel(ChannelType.EMAIL, groups=True, render=render, send=send, limits=limits)
