"""Exceptions and warnings raised by agentlab.

Every exception derives from :class:`AgentlabError`, so ``except al.AgentlabError``
catches anything agentlab raises on purpose. Messages are full sentences that name the
object, the hook or field, and the fix.

::

    AgentlabError
    ├── HookError
    │   ├── UnknownHookError      (also ValueError)  unknown hook name at registration
    │   └── HookSignatureError    (also TypeError)   handler of the wrong shape
    ├── ConfigError               (also ValueError)  bad settings or input data
    └── ToolError                                    a scenario's simulated tool failed

    AgentlabWarning (UserWarning)
    └── HookReplacedWarning      a single-slot hook (stt, tts) was registered twice
"""

from __future__ import annotations


class AgentlabError(Exception):
    """Base class of every error agentlab raises on purpose."""


class HookError(AgentlabError):
    """A hook could not be registered or dispatched."""


class UnknownHookError(HookError, ValueError):
    """A hook name that the object does not know was registered."""


class HookSignatureError(HookError, TypeError):
    """A handler does not have the shape its hook needs (sync vs async, generator, arity)."""


class ConfigError(AgentlabError, ValueError):
    """Settings or input data are invalid."""


class ToolError(AgentlabError):
    """A simulated tool returned the error its scenario declares (``on_error`` gets it)."""


class AgentlabWarning(UserWarning):
    """Base class of agentlab's warnings."""


class HookReplacedWarning(AgentlabWarning):
    """A single-slot stream hook (``stt``/``tts``) replaced an earlier handler."""
