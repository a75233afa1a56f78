"""Pipeline, Session, AgentRunner, CallContext, DialogMachine and simulation."""

from .dialog import DialogMachine
from .pipeline import Pipeline
from .runner import AgentRunner, CallContext
from .session import Session
from .simulate import Simulation, simulate, simulate_sync

__all__ = ["AgentRunner", "CallContext", "DialogMachine", "Pipeline", "Session",
           "Simulation", "simulate", "simulate_sync"]
