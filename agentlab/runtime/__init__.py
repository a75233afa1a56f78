"""Pipeline, Session, AgentRunner and CallContext."""

from .pipeline import Pipeline
from .runner import AgentRunner, CallContext
from .session import Session

__all__ = ["AgentRunner", "CallContext", "Pipeline", "Session"]
