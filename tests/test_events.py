import dataclasses

import pytest

from agentlab import events as ev


def test_events_are_frozen_slotted_and_named():
    e = ev.UserTurn("s", 1, 3, 10.0, "hi")
    assert e.name == "user_turn"
    assert not hasattr(e, "__dict__")
    with pytest.raises(dataclasses.FrozenInstanceError):
        e.text = "x"
    for name, cls in ev.EVENT_TYPES.items():
        assert cls.name == name
        fields = [f.name for f in dataclasses.fields(cls)]
        assert fields[:4] == ["session_id", "turn_id", "seq", "t_ms"]


def test_every_canonical_event_of_the_architecture_exists():
    assert {"session_start", "user_speech_start", "user_speech_end", "stt_partial",
            "stt_final", "user_turn", "llm_request", "llm_first_token", "llm_response",
            "tool_call", "tool_result", "tts_request", "tts_first_audio",
            "agent_speech_start", "agent_turn", "agent_speech_end", "interruption",
            "turn_end", "silence", "agent_transfer", "subagent_step", "memory_extraction",
            "error", "session_end", "hook_call", "recording",
            # turn-taking (docs/turn-taking.md)
            "eager_end_of_turn", "turn_resumed", "speculation_start", "speculation_used",
            "speculation_discarded", "latency_budget", "false_interruption",
            } == set(ev.EVENT_TYPES)
