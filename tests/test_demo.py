import subprocess
import sys


def test_demo_prints_what_fired_across_all_three_vocabularies():
    out = subprocess.run([sys.executable, "-m", "agentlab", "demo"], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    text = out.stdout
    for fired in ("runner    call_start", "pipeline  stt", "session   user_turn",
                  "pipeline  llm", "pipeline  tts", "framework on_turn_latency",
                  "framework on_session_end"):
        assert fired in text, fired
    assert "I see your [REDACTED] on file; the refund posts at 5 P M." in text
    assert "user_turn: 'i want to check my order'" in text


def test_cli_help_and_bad_usage():
    ok = subprocess.run([sys.executable, "-m", "agentlab", "--help"], capture_output=True,
                        text=True)
    assert ok.returncode == 0 and "demo" in ok.stdout
    bad = subprocess.run([sys.executable, "-m", "agentlab", "nope"], capture_output=True,
                         text=True)
    assert bad.returncode == 2 and "invalid choice: 'nope'" in bad.stderr
