"""Copilot chat and instructions, API tokens, audit events and backups."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Field, SQLModel

from models.base import InstructionState, created_field, id_field, json_field, project_fk


class ChatSession(SQLModel, table=True):
    id: str = id_field()
    project_id: str = project_fk()
    title: str = 'New session'
    created_at: datetime = created_field()
    updated_at: datetime = created_field()


class ChatMessage(SQLModel, table=True):
    id: str = id_field()
    project_id: str = project_fk()
    session_id: str = Field(foreign_key='chatsession.id', index=True, ondelete='CASCADE')
    role: str = Field(max_length=20)
    content: str
    instruction_id: str | None = None
    created_at: datetime = created_field()


class Instruction(SQLModel, table=True):
    """A proposed action the artist must confirm; it runs through the same services as the pages."""

    id: str = id_field()
    project_id: str = project_fk()
    session_id: str | None = Field(default=None, foreign_key='chatsession.id', ondelete='SET NULL')
    type: str = Field(max_length=30)
    objective: str = ''
    payload: dict[str, Any] = json_field()
    cost_estimate_usd: float = 0.0
    state: InstructionState = InstructionState.draft
    attempts: int = 0
    max_attempts: int = 3
    locked_by: str | None = None
    locked_at: datetime | None = None
    last_error: str = ''
    result: dict[str, Any] = json_field()
    created_at: datetime = created_field()
    updated_at: datetime = created_field()


class InstructionEvent(SQLModel, table=True):
    id: str = id_field()
    project_id: str = project_fk()
    instruction_id: str = Field(foreign_key='instruction.id', index=True, ondelete='CASCADE')
    event: str = Field(max_length=40)
    message: str = ''
    created_at: datetime = created_field()


class ApiToken(SQLModel, table=True):
    id: str = id_field()
    project_id: str | None = Field(default=None, foreign_key='project.id', ondelete='CASCADE')
    token_hash: str = Field(max_length=64, unique=True)
    prefix: str = Field(max_length=16)
    label: str = ''
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None
    created_at: datetime = created_field()


class AuditEvent(SQLModel, table=True):
    id: str = id_field()
    project_id: str | None = Field(default=None, foreign_key='project.id', ondelete='SET NULL', index=True)
    actor: str = Field(default='studio', max_length=64)
    action: str = Field(max_length=80)
    payload: dict[str, Any] = json_field()
    created_at: datetime = created_field()


class Backup(SQLModel, table=True):
    id: str = id_field()
    project_id: str | None = Field(default=None, foreign_key='project.id', ondelete='SET NULL')
    snapshot_key: str = ''
    status: str = 'running'
    size_bytes: int = 0
    uploaded_bytes: int = 0
    file_count: int = 0
    duration_s: float = 0.0
    manifest: dict[str, Any] = json_field()
    verified_at: datetime | None = None
    error: str = ''
    created_at: datetime = created_field()
