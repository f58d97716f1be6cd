"""The fault drill's stage hands: loopback SMTP and webhook receivers that count each delivery id,
the contacts file that points every unit at them, and the worker as a process to kill and restart.
Used by scripts/fault_drill.py (run as `./scripts/faults`)."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
from collections import Counter
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

ROOT = Path(__file__).resolve().parent.parent

SECRET_ENV = "DUBAN_DRILL_HOOK_SECRET"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Receivers:
    """An SMTP server and a webhook endpoint on loopback that count what they get by delivery id
    (the X-Duban-Delivery header), and refuse while `refusing` is set (451 / 503)."""

    def __init__(self) -> None:
        self.mail: Counter[str] = Counter()
        self.hooks: Counter[str] = Counter()
        self.refused = 0
        self.refusing = False
        rx = self

        class Mail:
            async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
                if rx.refusing:
                    rx.refused += 1
                    return "451 4.3.0 drill: try again later"
                envelope.rcpt_tos.append(address)
                return "250 OK"

            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                msg = message_from_bytes(envelope.original_content or envelope.content)
                rx.mail[str(msg["X-Duban-Delivery"])] += 1
                return "250 accepted"

        class Hook(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                if rx.refusing:
                    rx.refused += 1
                    code = 503
                else:
                    rx.hooks[str(self.headers.get("X-Duban-Delivery"))] += 1
                    code = 200
                self.send_response(code)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: Any) -> None:
                pass

        self.smtp_port = free_port()
        self.smtp = Controller(Mail(), hostname="127.0.0.1", port=self.smtp_port)
        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}/hook"

    def __enter__(self) -> Receivers:
        self.smtp.start()
        threading.Thread(target=self.http.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.smtp.stop()
        self.http.shutdown()


def contacts_file(folder: Path, plan_file: Path, url: str) -> Path:
    """Every unit of the plan's directory reached by e-mail and a signed webhook."""
    import yaml

    from services.plans import load_plan

    plan = load_plan(plan_file)
    units = {
        u.id: {"email": f"{u.id}@drill.test", "webhook": url, "webhook_secret_env": SECRET_ENV}
        for u in plan.directory.units
    }
    raw = yaml.safe_load(plan_file.read_text())
    directory = (plan_file.parent / raw["directory"]).resolve() if isinstance(raw.get("directory"), str) else None
    # A contacts file names its unit directory within the folder above its own (the loader
    # refuses anything else): a copy of the plan's directory sits beside it, as in plans/.
    (folder / "contacts").mkdir(parents=True, exist_ok=True)
    path = folder / "contacts" / "contacts.yaml"
    doc: dict[str, Any] = {"region": "drill", "units": units}
    if directory is not None:
        (folder / "units").mkdir(parents=True, exist_ok=True)
        (folder / "units" / directory.name).write_bytes(directory.read_bytes())
        doc["directory"] = f"../units/{directory.name}"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True))
    return path


class Worker:
    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env, self.log, self.proc = env, log, None  # type: ignore[var-annotated]
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        with self.log.open("ab") as f:
            self.proc = subprocess.Popen(  # type: ignore[assignment]
                [sys.executable, str(ROOT / "worker.py")], env=self.env, cwd=ROOT, stdout=f, stderr=f
            )

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:  # type: ignore[unreachable]
            self.proc.kill()  # type: ignore[unreachable]
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:  # type: ignore[unreachable]
            self.proc.send_signal(signal.SIGTERM)  # type: ignore[unreachable]
            try:
                self.proc.wait(120)
            except subprocess.TimeoutExpired:
                self.proc.kill()
