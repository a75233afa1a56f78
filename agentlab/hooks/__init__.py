"""The hook engine: spec table, registration checks, dispatch."""

from .bus import HookBus, run_stt, run_tts
from .payload import HookPayload
from .registry import FrameworkHooks, HandlerEntry, HookRegistry, HooksManager, VoiceSessionConfig
from .spec import HOOK_SPECS, Dispatch, HookSpec, Scope, hook_table

__all__ = [
    "HOOK_SPECS", "Dispatch", "FrameworkHooks", "HandlerEntry", "HookBus", "HookPayload",
    "HookRegistry", "HookSpec", "HooksManager", "Scope", "VoiceSessionConfig", "hook_table",
    "run_stt", "run_tts",
]
