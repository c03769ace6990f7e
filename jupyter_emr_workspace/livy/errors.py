"""The one error type of the engine: a request it refuses, with the HTTP status to answer."""

from __future__ import annotations


class LivyError(Exception):
    """A request the engine refuses; `status` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str, code: str = "BadRequest") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
