import subprocess
import sys


def test_demo_prints_what_fired_across_all_three_vocabularies(tmp_path):
    out = subprocess.run([sys.executable, "-m", "agentlab", "demo", "--out",
                          str(tmp_path / "out")], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    text = out.stdout
    for fired in ("runner    call_start", "pipeline  stt", "session   user_turn",
                  "pipeline  llm", "pipeline  tts", "framework on_turn_latency",
                  "framework on_session_end"):
        assert fired in text, fired
    assert "I see your [REDACTED] on file; the refund posts at 5 P M." in text
    assert "user_turn: 'i want to check my order'" in text
    # the experiment: CRM cost and llm-buffering cost show as separate segments
    rows = {line.split()[0]: line.split()[1:] for line in text.splitlines()
            if line.split()[:1] in (["user_hooks"], ["llm_rest"])}
    base, crm, redaction = map(float, rows["user_hooks"][:3])
    assert (base, crm, redaction) == (0.0, 80.0, 80.0)
    base, crm, redaction = map(float, rows["llm_rest"][:3])
    assert base == crm < redaction
    assert (tmp_path / "out" / "index.html").exists()


def test_cli_help_and_bad_usage():
    ok = subprocess.run([sys.executable, "-m", "agentlab", "--help"], capture_output=True,
                        text=True)
    assert ok.returncode == 0 and "demo" in ok.stdout
    bad = subprocess.run([sys.executable, "-m", "agentlab", "nope"], capture_output=True,
                         text=True)
    assert bad.returncode == 2 and "invalid choice: 'nope'" in bad.stderr


def test_demo_compares_every_candidate_with_the_baseline_in_words(capsys):
    from agentlab.demo import CONFIGS, experiment

    experiment(out=str(__import__("tempfile").mkdtemp()), repeats=1)
    out = capsys.readouterr().out
    assert "baseline baseline" not in out and "(the baseline is 'baseline')" in out
    for name in CONFIGS:
        if name != "baseline":
            assert f"{name} vs baseline, mean difference per turn" in out


def test_the_report_reads_in_words_and_its_tables_have_no_holes(tmp_path):
    import re

    import pandas as pd

    from agentlab.demo import experiment

    experiment(out=str(tmp_path), repeats=1)
    page = (tmp_path / "index.html").read_text()
    text = re.sub("<[^>]+>", " ", re.sub("<img[^>]*>", "", page))
    assert "NaN" not in text and not re.search(r"\de-\d", text)  # no holes, no float noise
    assert "3 configurations (baseline, crm_lookup, llm_redaction) on" in text
    for name in ("crm_lookup", "llm_redaction"):
        assert re.search(rf"{name}\s+adds \d+ ms per turn on average \(95% CI", text)
    assert text.index("Regressions") < text.index("comparison")  # regressions first
    assert page.count("<figcaption>") >= 2
    cmp = pd.read_csv(tmp_path / "comparison.csv")
    assert {"candidate", "baseline", "p50_baseline", "p50_candidate"} <= set(cmp.columns)
    assert not cmp.drop(columns=[c for c in cmp.columns if c.endswith("_lo")
                                 or c.endswith("_hi")]).isna().any().any()
