"""Provider plugins simulate their provider's published latencies, stage by stage."""

import json

import pytest

import agentlab as al
from agentlab.plugins import PROVIDERS
from agentlab.plugins.cartesia import CartesiaTTS
from agentlab.plugins.deepgram import DeepgramSTT, DeepgramTTS
from agentlab.plugins.google import GoogleSTT
from agentlab.plugins.groq import GroqLLM
from agentlab.plugins.openai import OpenAILLM


async def handle_call(ctx):
    await ctx.session.run()


def _medians(**components):
    rec = al.Recorder()
    al.simulate_sync(al.AgentRunner(entrypoint=handle_call, pipeline=al.Pipeline(**components)),
                     calls=150, recorder=rec)
    return rec.turns[["seg_stt_ms", "seg_llm_ttft_ms", "seg_tts_ttfb_ms",
                      "total_e2e_ms"]].median()


def test_two_stacks_that_differ_differ_in_the_expected_direction():
    base = _medians(stt=DeepgramSTT(), llm=OpenAILLM(model="gpt-4o"), tts=CartesiaTTS())
    slow_tts = _medians(stt=DeepgramSTT(), llm=OpenAILLM(model="gpt-4o"), tts=DeepgramTTS())
    other = _medians(stt=GoogleSTT(), llm=GroqLLM(), tts=CartesiaTTS())
    assert slow_tts.seg_tts_ttfb_ms == pytest.approx(150, rel=0.1)  # Aura-2's figure
    assert base.seg_tts_ttfb_ms == pytest.approx(90, rel=0.1)       # Sonic's
    assert slow_tts.total_e2e_ms > base.total_e2e_ms
    assert other.seg_llm_ttft_ms < 150 < base.seg_llm_ttft_ms        # Groq's 98 ms p50
    assert other.seg_stt_ms > base.seg_stt_ms                         # Google STT 878 ms


def test_a_model_name_changes_the_figures_where_they_differ():
    assert OpenAILLM(model="gpt-4o-mini").stages["llm_ttft_ms"]["p95"] == 1947
    assert OpenAILLM().stages["llm_ttft_ms"]["p95"] == 1369
    assert OpenAILLM(model="some-future-model").model == "gpt-4o"  # the default's figures


def test_the_api_key_is_taken_and_never_kept():
    llm = OpenAILLM(model="gpt-4o", api_key="sk-secret-123", temperature=0.2)
    assert "sk-secret" not in repr(llm) + repr(vars(llm))
    assert llm.options == {"temperature": 0.2}


def test_an_unknown_component_is_named_with_what_stands_in_for_it():
    class AcmeSTT:
        pass

    with pytest.warns(al.AgentlabWarning, match="AcmeSTT is not one agentlab simulates"):
        al.simulate_sync(al.AgentRunner(entrypoint=handle_call,
                                        pipeline=al.Pipeline(stt=AcmeSTT())))


def test_every_figure_names_its_source():
    figures = json.loads(PROVIDERS.read_text())
    for kind, providers in figures.items():
        if kind.startswith("_"):
            continue
        for name, entry in providers.items():
            assert entry["source"].strip(), (kind, name)


def test_the_docs_table_is_the_figures():
    from pathlib import Path

    from agentlab.plugins.table import markdown, plugin_classes

    doc = (Path(__file__).parents[2] / "docs" / "plugins.md").read_text()
    assert doc.endswith(markdown())
    assert len(plugin_classes()) >= 15
