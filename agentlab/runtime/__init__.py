"""Pipeline, Session, AgentRunner, CallContext, DialogMachine and simulation."""

from .agent_session import Agent, AgentSession, JobContext
from .dialog import DialogMachine
from .pipeline import Pipeline
from .runner import AgentRunner, CallContext
from .session import Session
from .simulate import Simulation, simulate, simulate_sync

__all__ = ["Agent", "AgentRunner", "AgentSession", "CallContext", "DialogMachine",
           "JobContext", "Pipeline", "Session", "Simulation", "simulate", "simulate_sync"]
