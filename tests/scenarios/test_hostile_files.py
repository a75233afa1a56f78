"""Scenario files that would fail every call at run time, or never finish loading, are
refused at load with the file, the field and the fix."""

import time

import pytest

import agentlab as al

GOOD = "id: ok\nturns:\n  - user: Hello.\n"


def _load(tmp_path, text, name="s.yaml"):
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return al.datasets.load(path)


@pytest.mark.parametrize("text, message", [
    ("id: x\nturns:\n  - user: Hi\n    pause_ms: .inf\n", r"pause_ms' must be a finite"),
    ("id: x\ntools:\n  t: {latency_ms: .inf}\nturns:\n  - user: Hi\n",
     r"latency_ms' must be a finite"),
    ("id: x\npersona: {answers: {'order (num': 'It is 4417.'}}\nturns:\n  - user: Hi\n",
     r"valid regular expression"),
    ("id: x\npersona: {answers: {42: 'It is 4417.'}}\nturns:\n  - user: Hi\n",
     r"not a string, got 42"),
    ("- id: a\n  turns: [{user: Hi}]\n- id: a\n  turns: [{user: Hello}]\n",
     r"ids must be unique; repeated: a"),
])
def test_run_time_failures_are_refused_at_load(tmp_path, text, message):
    with pytest.raises(al.ConfigError, match=message):
        _load(tmp_path, text)


def test_non_utf8_file_names_the_byte_and_the_fix(tmp_path):
    with pytest.raises(al.ConfigError, match=r"not UTF-8 text \(byte 0xe9 .*save the file"):
        _load(tmp_path, "id: caf\xe9\nturns:\n  - user: Hi\n".encode("latin-1"))


def test_yaml_exponent_numbers_are_numbers(tmp_path):
    s = _load(tmp_path, "id: x\ntools:\n  t: {latency_ms: 1.5e3}\nturns:\n  - user: Hi\n")
    assert s.tools["t"].latency_ms == 1500.0


def test_an_alias_bomb_is_refused_quickly(tmp_path):
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    for i in range(1, 9):
        prev = chr(ord("a") + i - 1)
        bomb += f"{chr(ord('a') + i)}: &{chr(ord('a') + i)} [" + ", ".join([f"*{prev}"] * 10) + "]\n"
    text = ("id: x\ntools:\n  t:\n    result:\n" +
            "".join(f"      {line}\n" for line in bomb.splitlines()) +
            "turns:\n  - user: Hi\n")
    assert len(text) < 1200
    t0 = time.perf_counter()
    with pytest.raises(al.ConfigError, match="aliases"):
        _load(tmp_path, text)
    assert time.perf_counter() - t0 < 5


def test_a_huge_file_is_refused_before_it_is_parsed(tmp_path, monkeypatch):
    from agentlab.scenarios import loader

    monkeypatch.setattr(loader, "MAX_FILE_BYTES", 1000)
    with pytest.raises(al.ConfigError, match="too big for a scenario file"):
        _load(tmp_path, GOOD + "# " + "x" * 2000 + "\n")
    assert _load(tmp_path, GOOD).id == "ok"
