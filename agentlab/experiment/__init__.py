"""Experiments: compare hook configurations on the same calls, on any executor."""

from .experiment import Config, Experiment

__all__ = ["Config", "Experiment"]
