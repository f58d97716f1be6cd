"""`duban users …` and `duban web` as an operator runs them: exit codes per the README's policy
(0 done, 1 refused, 2 invalid input), never a traceback; the operator acts as the office."""

from __future__ import annotations

import re

import httpx

from tests.e2e.conftest import Duban, Live, Stack, clean_env, free_port, run_duban


def test_users_add_list_disable_reset(stack: Stack) -> None:
    done = stack.run(
        "users", "add", "clerk-east", "--role", "agency:east", "--name", "东镇办", "--password", "s3cret-pass"
    )
    assert done.returncode == 0, done.stderr
    assert "clerk-east" in done.stdout and "agency:east" in done.stdout
    again = stack.run("users", "add", "clerk-east", "--role", "auditor", "--password", "s3cret-pass")
    assert (again.returncode, again.stderr.strip()) == (1, "an account 'clerk-east' already exists")
    bad = stack.run("users", "add", "x", "--role", "king", "--password", "s3cret-pass")
    assert bad.returncode == 2 and "not a role" in bad.stderr and "Traceback" not in bad.stderr
    short = stack.run("users", "add", "y", "--role", "auditor", "--password", "short")
    assert short.returncode == 2 and "8 to 1000 characters" in short.stderr
    listed = stack.run("users", "list")
    assert listed.returncode == 0 and "clerk-east" in listed.stdout and "active" in listed.stdout
    off = stack.run("users", "disable", "clerk-east")
    assert off.returncode == 0 and "disabled" in off.stdout
    assert "disabled" in stack.run("users", "list").stdout
    back = stack.run("users", "reset", "clerk-east", "--password", "another-pass")
    assert back.returncode == 0 and "active" in back.stdout
    missing = stack.run("users", "disable", "nobody")
    assert (missing.returncode, missing.stderr.strip()) == (1, "no account 'nobody'")


def test_users_invite_exit_codes(stack: Stack) -> None:
    bad = stack.run("users", "invite", "clerk-west", "--email", "not an address", "--role", "agency:west")
    assert bad.returncode == 2 and "bad e-mail address" in bad.stderr and "Traceback" not in bad.stderr
    norole = stack.run("users", "invite", "clerk-west", "--email", "west@county.test")
    assert norole.returncode == 2 and "--role" in norole.stderr
    # No mail server listens here: refused (1), and no account was made.
    nobody = {**stack.env, "DUBAN_SMTP_PORT": str(free_port())}
    unsent = run_duban(
        "users", "invite", "clerk-west", "--email", "west@county.test", "--role", "agency:west", env=nobody
    )
    assert unsent.returncode == 1 and "not sent" in unsent.stderr and "Traceback" not in unsent.stderr
    assert "clerk-west" not in stack.run("users", "list").stdout


def test_web_refuses_a_public_address_without_a_secret(duban: Duban) -> None:
    r = duban("web", "--host", "0.0.0.0", "--port", "1")
    assert r.returncode == 1 and "DUBAN_WEB_SECRET" in r.stderr and "Traceback" not in r.stderr
    weak = duban("web", "--host", "0.0.0.0", "--port", "1", env=clean_env(DUBAN_WEB_SECRET="changeme"))
    assert weak.returncode == 1 and "non-loopback" in weak.stderr


def test_up_serves_the_web_door_with_a_first_office_login(live: Live) -> None:
    live.wait_ready()
    out = live.up_output()
    found = re.search(r"web: (http://127\.0\.0\.1:\d+/)", out)
    login = re.search(r"first office login: (\S+) / (\S+)", out)
    assert found and login, out
    with httpx.Client(base_url=found.group(1)) as web:
        assert web.get("/", follow_redirects=False).headers["location"] == "/signin"
        form = web.get("/signin")
        token = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert token
        r = web.post("/signin", data={"name": login.group(1), "password": login.group(2), "csrf": token.group(1)})
        assert r.status_code == 303
        assert "督办事项" in web.get("/").text
    assert "office" in live.run("users", "list").stdout
