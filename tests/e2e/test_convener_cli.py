"""`duban convener list|instruct` as an operator runs them: exit codes per the README's policy (0
done, 1 refused, 2 invalid input), never a traceback. What the answers do on a live campaign is
proven in tests/integration/test_convener_push.py (the same service functions)."""

from __future__ import annotations

from tests.e2e.conftest import Stack


def test_convener_commands_exit_codes(stack: Stack) -> None:
    unknown = stack.run("convener", "list", "no-such-campaign")
    assert unknown.returncode == 1 and "no campaign 'no-such-campaign'" in unknown.stderr
    empty = stack.run("convener", "instruct", "no-such-campaign/rectify/x", "--text", "   ")
    assert empty.returncode == 2 and "批示内容不能为空" in empty.stderr
    not_reached = stack.run("convener", "instruct", "no-such-campaign/rectify/x", "--text", "请抓紧整改")
    assert not_reached.returncode == 1 and "reached the convener" in not_reached.stderr
    obligation = stack.run("convener", "instruct", "no-such-campaign/rollout/west/T01", "--text", "请抓紧")
    assert obligation.returncode == 1 and "reached the convener" in obligation.stderr
    for r in (unknown, empty, not_reached, obligation):
        assert "Traceback" not in r.stderr
