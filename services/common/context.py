"""Per-request context carried to peers: request id and the verified user."""

from __future__ import annotations

from contextvars import ContextVar

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
user_id: ContextVar[str | None] = ContextVar("user_id", default=None)
user_email: ContextVar[str | None] = ContextVar("user_email", default=None)
caller: ContextVar[str | None] = ContextVar("caller", default=None)
