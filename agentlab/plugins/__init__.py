"""Provider plugins: the component classes voice-agent programs construct
(``DeepgramSTT()``, ``GoogleLLM(model=...)``, ``CartesiaTTS()``, ``SileroVAD()``, ...),
as simulated components whose latency stages are that provider's published figures.

``from videosdk.plugins.deepgram import DeepgramSTT`` becomes
``from agentlab.plugins.deepgram import DeepgramSTT``. In a simulated call each plugin
replaces its stages of the base latency profile (the rest stay the profile's), so
``Pipeline(stt=DeepgramSTT(), llm=GoogleLLM(), tts=CartesiaTTS())`` simulates that stack.
Every figure and its source is in ``agentlab/data/providers.json`` (docs/plugins.md). The
real classes' arguments (``model``, ``api_key``, voices, options) are accepted; a model
with figures of its own changes them (gpt-4o vs gpt-4o-mini). The API key is never kept.
In a live call a plugin is served by the offline model of its kind.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any, ClassVar

from ..components.profiles import Dist, Profile
from ..errors import AgentlabWarning

PROVIDERS = Path(__file__).resolve().parents[1] / "data" / "providers.json"


@cache
def _figures() -> dict[str, Any]:
    return json.loads(PROVIDERS.read_text())


def provider_stages(kind: str, provider: str, model: str | None) -> tuple[dict, str, str]:
    """(stages, source, model) for one provider component: the model's own figures if it
    has them, else the provider's default model's."""
    entry = _figures()[kind][provider]
    default = entry["default"]
    if isinstance(default, str):  # per-model figures (LLMs)
        used = model if model in entry else default
        return entry[used], entry["source"], used
    return default, entry["source"], model or ""


class ProviderComponent:
    """Mixin for a plugin class: the simulated component of its kind plus the provider's
    stages. Subclasses set ``kind`` and ``provider``."""

    kind: ClassVar[str]
    provider: ClassVar[str]

    def __init__(self, *args: Any, model: str | None = None, api_key: str | None = None,
                 **options: Any) -> None:
        super().__init__()  # the simulated component's defaults
        self.options = {k: v for k, v in options.items() if "key" not in k.lower()}
        self.stages, self.source, self.model = provider_stages(self.kind, self.provider,
                                                                model)

    def __repr__(self) -> str:
        model = f"model={self.model!r}" if self.model else ""
        return f"{type(self).__name__}({model})"


def compose_profile(base: Profile, components: list[Any]) -> Profile:
    """``base`` with each provider component's stages in place of its own (a
    speech-to-speech base is left as it is: its stages are the model's)."""
    plugins = [c for c in components if isinstance(c, ProviderComponent)]
    if not plugins or base.mode != "cascade":
        return base
    stages, sources = dict(base.stages), dict(base.sources)
    for comp in plugins:
        for stage, spec in comp.stages.items():
            stages[stage] = Dist.parse(spec, f"{type(comp).__name__}: {stage}")
            sources[stage] = comp.source
    name = "+".join([base.name, *(repr(c) for c in plugins)])
    return replace(base, name=name, stages=stages, sources=sources)


def pipeline_components(pipeline: Any) -> list[Any]:
    return [getattr(pipeline, name, None)
            for name in ("stt", "llm", "tts", "vad", "turn_detector")]


def simulated(component: Any, kind: type) -> Any:
    """The pipeline's simulated component, or a default one where it has none. A
    component agentlab does not know (not a simulated one, not one of agentlab's own live
    ones) is said, with what stands in for it."""
    if isinstance(component, kind):
        return component
    if component is not None and not type(component).__module__.startswith("agentlab."):
        warnings.warn(f"Pipeline component {type(component).__name__} is not one agentlab "
                      f"simulates; a default simulated {kind.__name__} with the profile's "
                      f"stages stands in for it. Use its agentlab.plugins class (e.g. "
                      f"agentlab.plugins.deepgram.DeepgramSTT) or an al.sim component.",
                      AgentlabWarning, stacklevel=4)
    return kind()
