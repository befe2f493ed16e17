"""Provider call slots: an account's concurrency limit as rows, so it holds across every worker on every machine."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel


class ProviderSlot(SQLModel, table=True):
    """One of an account's concurrent call slots; a call holds it (holder) under a lease its worker renews."""

    account_key: str = Field(primary_key=True, max_length=64)  # the provider account's id
    slot: int = Field(primary_key=True)
    holder: str | None = Field(default=None, max_length=64)  # the call holding it
    worker: str | None = Field(default=None, max_length=200, index=True)  # whose heartbeat renews it
    expires_at: datetime | None = None  # a dead worker's slot frees itself when this passes
