"""Provider accounts and encrypted secrets."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from models.base import ProviderKind, created_field, id_field, json_field


class ProviderAccountBase(SQLModel):
    name: str = Field(max_length=100)
    kind: ProviderKind = ProviderKind.local
    base_url: str = ''
    model: str = ''
    options: dict[str, Any] = json_field()


class ProviderAccount(ProviderAccountBase, table=True):
    """Where generation goes; project_id None means usable by every project."""

    __table_args__ = (UniqueConstraint('project_id', 'name', name='uq_provider_account_name'),)
    id: str = id_field()
    project_id: str | None = Field(default=None, foreign_key='project.id', index=True, ondelete='CASCADE')
    secret_id: str | None = Field(default=None, foreign_key='secret.id', ondelete='SET NULL')
    health: dict[str, Any] = json_field()
    created_at: datetime = created_field()
    updated_at: datetime = created_field()


class ProviderAccountCreate(ProviderAccountBase):
    project_id: str | None = None


class ProviderAccountUpdate(BaseModel):
    name: str | None = None
    base_url: str | None = None
    model: str | None = None
    options: dict[str, Any] | None = None


class ProviderAccountRead(ProviderAccountBase):
    id: str
    project_id: str | None
    has_key: bool = False
    key_hint: str = ''
    health: dict[str, Any]


class Secret(SQLModel, table=True):
    """A ciphertext bound by associated data to its scope, provider and name; never plaintext at rest."""

    __table_args__ = (UniqueConstraint('scope', 'provider', 'name', name='uq_secret_scope_name'),)
    id: str = id_field()
    scope: str = Field(max_length=64, description='"global" or a project id')
    provider: str = Field(max_length=64)
    name: str = Field(max_length=100)
    ciphertext: str
    key_ref: str = Field(max_length=64, index=True)
    hint: str = Field(default='', max_length=8)
    created_at: datetime = created_field()
    updated_at: datetime = created_field()


class SecretRead(BaseModel):
    id: str
    scope: str
    provider: str
    name: str
    key_ref: str
    masked: str
    updated_at: datetime
