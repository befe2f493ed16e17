"""Small shared helpers for project-owned rows: ownership checks and case-insensitive unique names."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import func, literal
from sqlmodel import Session, SQLModel, select

from models.base import utcnow
from services.errors import Conflict, NotFound

T = TypeVar('T', bound=SQLModel)


def get_owned(session: Session, model: type[T], project_id: str, row_id: str) -> T:
    """Fetch a row only if it belongs to the project: no service ever returns another project's rows."""
    row = session.get(model, row_id)
    if row is None or getattr(row, 'project_id', None) != project_id:
        raise NotFound(f'No such {model.__name__.lower()} in this project.')
    return row


def ensure_unique_name(
    session: Session, model: type[SQLModel], project_id: str, name: str, *, exclude_id: str | None = None
) -> None:
    """Names are unique per project ignoring case, checked here for a clear message and by the database index."""
    query = select(model).where(model.project_id == project_id, func.lower(model.name) == func.lower(literal(name)))  # type: ignore[attr-defined]
    for row in session.exec(query):
        if row.id != exclude_id:  # type: ignore[attr-defined]
            raise Conflict(f'"{row.name}" already exists in this project (names ignore case).', code='name_taken')  # type: ignore[attr-defined]


def changes(data: BaseModel, *, nullable: tuple[str, ...] = ()) -> dict[str, Any]:
    """The fields an update model was given; None keeps the current value, except for fields where None clears."""
    return {k: v for k, v in data.model_dump(exclude_unset=True).items() if v is not None or k in nullable}


def apply_patch(row: SQLModel, patch: dict[str, Any]) -> None:
    for key, value in patch.items():
        setattr(row, key, value)
    if hasattr(row, 'updated_at'):
        row.updated_at = utcnow()  # type: ignore[attr-defined]
