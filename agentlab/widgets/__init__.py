"""``al.widgets``: notebook widgets (ipywidgets).

- :class:`SessionConsole` - drive a simulated call by typing; toggle hooks between turns.
- :class:`Comparator` - run an experiment with knobs; summary and plot; a stop button.
- :class:`EventExplorer` - filter a run's events; the table and the call timeline.
"""

from .console import SessionConsole
from .explore import Comparator, EventExplorer

__all__ = ["Comparator", "EventExplorer", "SessionConsole"]
