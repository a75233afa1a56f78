"""Scenarios: realistic calls to play against an agent (format, loader, importers)."""

from .loader import list_datasets, load, load_file
from .model import CallSetup, Outbound, Persona, Scenario, SimulatedTool, ToolStep, Turn

__all__ = ["CallSetup", "Outbound", "Persona", "Scenario", "SimulatedTool", "ToolStep", "Turn",
           "list_datasets",
           "load", "load_file"]
