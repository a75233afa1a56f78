"""``al.datasets``: the bundled scenario sets, real dialogs and latency profiles.

>>> import agentlab as al
>>> table = al.datasets.list()
>>> {"scenarios", "taskmaster4-coffee"} <= set(table.name)
True
"""

from .scenarios.loader import list_datasets as list
from .scenarios.loader import load

__all__ = ["list", "load"]
