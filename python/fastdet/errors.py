"""fastdet's exceptions: one base, and each also an instance of the built-in it refines.

    Error                                   base of everything fastdet raises on purpose
    ├── InputError(Error, ValueError)       a bad value: shape, range, size, unknown name
    ├── InputTypeError(Error, TypeError)    a bad type: dtype, non-array, non-bool flag
    ├── ModelError(Error, ValueError)       a model file fastdet cannot use (missing, corrupt,
    │                                       not a detector it can decode, bad metadata)
    ├── BackendUnavailable(Error, RuntimeError)  the asked-for backend cannot run here
    ├── EngineError(Error, RuntimeError)    building, caching or running an inference engine
    │   └── UnsafeCacheError(EngineError, PermissionError)  a cache folder or file others could write
    └── CudaError(Error, RuntimeError)      a CUDA runtime error (the message names the call)

Existing ``except ValueError`` / ``except TypeError`` handlers keep working. The native core's
errors arrive as these classes too (``fastdet._core`` maps its C++ exceptions onto them), so a
caller can catch ``fastdet.Error`` for everything fastdet rejects.

This module imports nothing of fastdet: the native core imports it while it loads.
"""

from __future__ import annotations


class Error(Exception):
    """Base of every exception fastdet raises on purpose."""


class InputError(Error, ValueError):
    """A value fastdet cannot accept (shape, range, size, name); the message names the argument."""


class InputTypeError(Error, TypeError):
    """An argument of the wrong type or dtype; the message names it, what was expected and what came."""


class ModelError(Error, ValueError):
    """A model fastdet cannot use: missing, corrupt, not a detector it can decode, or bad metadata."""


class BackendUnavailable(Error, RuntimeError):
    """The requested backend cannot run here (package missing, no GPU, ...); the message says why."""


class EngineError(Error, RuntimeError):
    """Building, caching or running an inference engine failed."""


class UnsafeCacheError(EngineError, PermissionError):
    """A cache folder or file that another user could have written: refused, not used."""


class CudaError(Error, RuntimeError):
    """A CUDA runtime error; the message names the CUDA error and the call."""


__all__ = ["BackendUnavailable", "CudaError", "EngineError", "Error", "InputError", "InputTypeError",
           "ModelError", "UnsafeCacheError"]
