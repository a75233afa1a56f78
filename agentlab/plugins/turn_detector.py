"""turn_detector plugins, simulated with its published latency figures (see agentlab.plugins)."""

from ..components.sim import TurnDetector as _TurnDetector
from . import ProviderComponent


class TurnDetector(ProviderComponent, _TurnDetector):
    kind, provider = "turn_detector", "turn_detector"


__all__ = ["TurnDetector"]
