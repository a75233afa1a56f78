"""agentlab: prototype voice-agent hooks in Jupyter and measure what they do.

Importing agentlab has no side effects: no logging setup, no plot style, no loop policy.

Example
-------
>>> import agentlab as al
>>> pipeline = al.Pipeline()
>>> @pipeline.on("llm")
... async def redact(data): return data["text"].replace("SSN", "[REDACTED]")
"""

from . import datasets, events, sim
from .components import Profile, available_profiles, load_profile
from .components.sim import LatencyBudget
from .errors import (
    AgentlabError,
    AgentlabWarning,
    ConfigError,
    HookError,
    HookReplacedWarning,
    HookSignatureError,
    ToolError,
    UnknownHookError,
)
from .hooks import (
    FrameworkHooks,
    HookPayload,
    HooksManager,
    VoiceSessionConfig,
    hook_table,
    run_stt,
    run_tts,
)
from .runtime import (
    Agent,
    AgentRunner,
    AgentSession,
    CallContext,
    DialogMachine,
    JobContext,
    Pipeline,
    Session,
    Simulation,
    simulate,
    simulate_sync,
)
from .runtime.tools import Tool, tool
from .scenarios import CallSetup, Outbound, Scenario

__version__ = "0.1.0"

__all__ = [
    "Agent", "AgentRunner", "AgentSession", "JobContext", "AgentlabError", "AgentlabWarning",
    "CallContext", "ConfigError",
    "FrameworkHooks", "HookError", "HookPayload", "HooksManager", "VoiceSessionConfig",
    "HookReplacedWarning",
    "HookSignatureError", "Pipeline", "Session", "ToolError", "UnknownHookError", "__version__",
    "events", "hook_table", "run_stt", "run_tts", "sim", "DialogMachine", "Simulation",
    "simulate", "simulate_sync", "available_profiles", "load_profile", "Profile", "datasets",
    "CallSetup", "Outbound", "Scenario", "Tool", "tool", "Recorder", "Store", "analysis",
    "plot", "io", "Config",
    "Experiment", "widgets", "live", "plugins", "LatencyBudget",
]

# Imported on first use: they pull in pandas, pyarrow and matplotlib, which plain
# `import agentlab` must not (a notebook's first cell, a CLI start, every worker process).
_LAZY = ("analysis", "plot", "widgets", "live", "io")
_LAZY_NAMES = {"Recorder": "recorder", "Store": "recorder", "Experiment": "experiment",
               "Config": "experiment"}


def __getattr__(name: str):
    import importlib

    if name in _LAZY:
        module = importlib.import_module(f".{name}", __name__)
        globals()[name] = module
        return module
    if name in _LAZY_NAMES:
        value = getattr(importlib.import_module(f".{_LAZY_NAMES[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'agentlab' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY, *_LAZY_NAMES})
