"""`duban users add|invite|list|disable|reset`: the web door's accounts, managed from the shell by the
operator acting as the office (services.accounts)."""

from __future__ import annotations

import getpass

import typer

from cli.common import UserError, as_office, call, out
from models.board import AccountView
from services import accounts

app = typer.Typer(help="Accounts of the web door (office, agency:<unit>, auditor, convener).", no_args_is_help=True)

_PASSWORD = typer.Option(
    None, "--password", envvar="DUBAN_NEW_PASSWORD", help="The password (else asked for, not echoed)."
)


def _password(given: str | None) -> str:
    if given:
        return given
    try:
        first = getpass.getpass("password: ")
        again = getpass.getpass("again: ")
    except (EOFError, KeyboardInterrupt):
        raise UserError("no password given (--password, or type it at the prompt)") from None
    if first != again:
        raise UserError("the two passwords differ")
    return first


def _line(a: AccountView) -> str:
    state = "disabled" if a.disabled else ("locked" if a.locked_until else "active")
    name = f" ({a.display_name})" if a.display_name else ""
    return f"{a.name:<24} {a.role:<28} {state}{name}"


@app.command("add")
def add(
    name: str,
    role: str = typer.Option(..., "--role", help="office | agency:<unit id> | auditor | convener"),
    display_name: str = typer.Option("", "--name", help="The person's or unit's name, as pages show it."),
    password: str | None = _PASSWORD,
) -> None:
    """Add an account with its role."""
    secret = _password(password)
    a = call(
        lambda ctx: accounts.add(
            ctx, actor=as_office(), name=name, role=role, password=secret, display_name=display_name
        )
    )
    out.print(f"added {_line(a)}", markup=False)


@app.command("invite")
def invite(
    name: str,
    email: str = typer.Option(..., "--email", help="Where the one-time sign-in link is sent."),
    role: str | None = typer.Option(
        None, "--role", help="office | agency:<unit id> | auditor | convener (needed for a new account)"
    ),
    display_name: str = typer.Option("", "--name", help="The person's or unit's name, as pages show it."),
) -> None:
    """Make an account (or re-invite one) and e-mail it a one-time sign-in link to set its password."""
    done = call(
        lambda ctx: accounts.invite(
            ctx, actor=as_office(), name=name, email=email, role=role, display_name=display_name
        )
    )
    verb = "invited" if done.created else "re-invited"
    out.print(f"{verb} {_line(done.account)}", markup=False)
    until = f"{done.expires_at:%Y-%m-%d %H:%M} UTC"
    out.print(f"a one-time sign-in link went to {done.email}, good until {until}", markup=False)


@app.command("list")
def list_() -> None:
    """Every account, its role and whether it is active."""
    found = call(lambda ctx: accounts.list_accounts(ctx, actor=as_office()))
    for a in found:
        out.print(_line(a), markup=False)
    if not found:
        out.print("no accounts yet: duban users add NAME --role office", markup=False)


@app.command("disable")
def disable(name: str) -> None:
    """Disable an account: its sessions end and its calendar feeds stop."""
    a = call(lambda ctx: accounts.disable(ctx, actor=as_office(), name=name))
    out.print(f"disabled {_line(a)}", markup=False)


@app.command("reset")
def reset(name: str, password: str | None = _PASSWORD) -> None:
    """Set a new password: the account is enabled and unlocked, its sessions end."""
    secret = _password(password)
    a = call(lambda ctx: accounts.reset(ctx, actor=as_office(), name=name, password=secret))
    out.print(f"reset {_line(a)}", markup=False)
