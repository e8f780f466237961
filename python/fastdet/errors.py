"""fastdet's exceptions: one base, and each also an instance of the built-in it refines.

    Error                                   base of everything fastdet raises on purpose
    ├── InputError(Error, ValueError)       a bad value: shape, range, size, unknown name
    ├── InputTypeError(Error, TypeError)    a bad type: dtype, non-array, non-bool flag
    ├── ModelError(Error, ValueError)       a model file fastdet cannot use (missing, corrupt,
    │                                       not a detector it can decode, bad metadata)
    ├── BackendUnavailable(Error, RuntimeError)  the asked-for backend cannot run here
    ├── EngineError(Error, RuntimeError)    building, caching or running an inference engine
    │   └── UnsafeCacheError(EngineError, PermissionError)  a cache folder or file others could write
    ├── CudaError(Error, RuntimeError)      a CUDA runtime error (the message names the call)
    ├── SourceError(Error, OSError)         a live source that never opens, or closed for good
    ├── QueueFull(Error, RuntimeError)      a BatchingDetector's queue is full (back-pressure)
    ├── RequestTimeout(Error, TimeoutError) a request waited past its timeout before it could run
    └── Closed(Error, RuntimeError)         work given to a BatchingDetector or stream after close()

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


class SourceError(Error, OSError):
    """A camera or network stream that cannot be opened, or that closed and did not come back
    (missing or undecodable files are ``InputError``s)."""


class QueueFull(Error, RuntimeError):
    """A BatchingDetector's queue stayed full for the whole wait: the caller should slow down."""


class RequestTimeout(Error, TimeoutError):
    """A BatchingDetector request was still waiting when its timeout passed; it did not run."""


class Closed(Error, RuntimeError):
    """Work submitted after ``close()``."""


__all__ = ["BackendUnavailable", "Closed", "CudaError", "EngineError", "Error", "InputError", "InputTypeError",
           "ModelError", "QueueFull", "RequestTimeout", "SourceError", "UnsafeCacheError"]
