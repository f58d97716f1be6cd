"""Sending one e-mail over the configured SMTP server, with its errors sorted into permanent and
transient (`SendError`): the delivery ledger's e-mail channel (`activities.sending`) and the
one-time sign-in links of `duban users invite` (`services.invites`) both send through here.

smtplib blocks: callers run `smtp_send` in a thread.
"""

from __future__ import annotations

import re
import smtplib
import ssl
from email.message import EmailMessage

from activities.config import Settings
from activities.posting import SendError, placeholder

_EMAIL = re.compile(r"^[^@\s<>,;\"]+@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)$")


def check_email(address: str) -> None:
    """A permanent SendError for an address that is not one, or is a placeholder (.invalid)."""
    m = _EMAIL.fullmatch(address)
    if not m:
        raise SendError(f"bad e-mail address {address!r}", permanent=True)
    if placeholder(m[1]):
        raise SendError(
            f"placeholder address {address!r} (the reserved .invalid domain): fill in the contacts file",
            permanent=True,
        )


def _smtp_error(code: int, text: bytes | str, what: str) -> SendError:
    msg = text.decode(errors="replace") if isinstance(text, bytes) else str(text)
    return SendError(f"SMTP {code} {what}: {msg}", permanent=500 <= code < 600)


def smtp_send(s: Settings, msg: EmailMessage, to: str) -> None:
    """Hand `msg` to the SMTP server for `to` (STARTTLS and AUTH as configured)."""
    try:
        smtp = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout_seconds)
    except (OSError, smtplib.SMTPException) as e:
        raise SendError(f"SMTP {s.smtp_host}:{s.smtp_port} unreachable: {e!r}", permanent=False) from None
    try:
        if s.smtp_starttls:
            smtp.starttls(context=ssl.create_default_context())
        if s.smtp_username:
            smtp.login(s.smtp_username, s.smtp_password.get_secret_value() if s.smtp_password else "")
        smtp.send_message(msg, from_addr=s.smtp_sender, to_addrs=[to])
    except smtplib.SMTPRecipientsRefused as e:
        code, text = e.recipients.get(to, (550, b"refused"))
        raise _smtp_error(code, text, f"refused {to}") from None
    except smtplib.SMTPResponseException as e:
        raise _smtp_error(e.smtp_code, e.smtp_error, "error") from None
    except smtplib.SMTPNotSupportedError as e:
        raise SendError(f"SMTP server does not support what is configured: {e}", permanent=True) from None
    except (smtplib.SMTPServerDisconnected, OSError) as e:
        raise SendError(f"SMTP connection lost: {e!r}", permanent=False) from None
    except (smtplib.SMTPException, ValueError) as e:
        raise SendError(f"SMTP: {e!r}", permanent=True) from None
    finally:
        try:
            smtp.quit()  # the message is accepted already; a failing QUIT changes nothing
        except (OSError, smtplib.SMTPException):
            smtp.close()
