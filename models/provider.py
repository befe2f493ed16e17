"""Provider accounts and encrypted secrets."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, SecretStr
from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from models.base import Input, ProviderKind, created_field, id_field, json_field

ACCOUNT_NAME_MAX, KEY_MAX = 100, 65_536
AccountName = Annotated[str, Field(min_length=1, max_length=ACCOUNT_NAME_MAX)]
BaseUrl = Annotated[str, Field(max_length=500)]
ModelName = Annotated[str, Field(max_length=200)]


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


class ProviderAccountCreate(Input):
    """A new account; it belongs to the project it is made in unless shared by every project."""

    name: AccountName = Field(title='Account name')
    kind: ProviderKind = Field(ProviderKind.local, title='Kind')
    base_url: BaseUrl = Field('', title='Base URL')
    model: ModelName = Field('', title='Model')
    options: dict[str, Any] = Field(default_factory=dict, title='Options')
    shared: bool = Field(False, title='Shared', description='Usable by every project (needs an unscoped token).')
    api_key: SecretStr | None = Field(
        None, max_length=KEY_MAX, title='API key', description='Stored encrypted; never returned.'
    )


class ProviderAccountUpdate(Input):
    """Only the fields given change; None keeps the current value; options are merged key by key."""

    name: AccountName | None = Field(None, title='Account name')
    base_url: BaseUrl | None = Field(None, title='Base URL')
    model: ModelName | None = Field(None, title='Model')
    options: dict[str, Any] | None = Field(None, title='Options')


class ProviderKeyUpdate(Input):
    api_key: SecretStr = Field(max_length=KEY_MAX, title='API key')


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
