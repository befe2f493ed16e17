"""Reference sets (J02): named, ordered groups of images (or text notes) that a run or an artist can pick at once."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session, col, select

from models.assets import Asset
from models.references import (
    ReferenceSet,
    ReferenceSetCreate,
    ReferenceSetItem,
    ReferenceSetItemCreate,
    ReferenceSetItemRead,
    ReferenceSetRead,
    ReferenceSetUpdate,
)
from services.crud import apply_patch, changes, ensure_unique_name, get_owned
from services.errors import Invalid
from services.security import audit


def _items(session: Session, set_id: str) -> list[ReferenceSetItem]:
    query = select(ReferenceSetItem).where(ReferenceSetItem.reference_set_id == set_id)
    return list(session.exec(query.order_by(col(ReferenceSetItem.sort_order), col(ReferenceSetItem.id))).all())


def _read(session: Session, row: ReferenceSet) -> ReferenceSetRead:
    items = _items(session, row.id)
    ids = [i.asset_id for i in items if i.asset_id]
    assets = {a.id: a for a in session.exec(select(Asset).where(col(Asset.id).in_(ids)))} if ids else {}
    out = []
    for pos, item in enumerate(items):
        asset = assets.get(item.asset_id or '')
        out.append(
            ReferenceSetItemRead(
                id=item.id,
                position=pos,
                asset_id=item.asset_id,
                label=item.label,
                content_text=item.content_text,
                sha256=asset.sha256 if asset else None,
                original_name=asset.original_name if asset else None,
            )
        )
    return ReferenceSetRead(id=row.id, name=row.name, description=row.description, items=out)


def _renumber(session: Session, items: Sequence[ReferenceSetItem]) -> None:
    for pos, item in enumerate(items):
        if item.sort_order != pos:
            item.sort_order = pos
            session.add(item)
    session.flush()


def create_set(
    session: Session, project_id: str, data: ReferenceSetCreate, *, actor: str | None = None
) -> ReferenceSetRead:
    name = data.name
    ensure_unique_name(session, ReferenceSet, project_id, name)
    row = ReferenceSet(project_id=project_id, name=name, description=data.description)
    session.add(row)
    session.flush()
    audit.record(session, project_id=project_id, actor=actor, action='reference_set.create', payload={'name': name})
    return _read(session, row)


def update_set(
    session: Session, project_id: str, set_id: str, data: ReferenceSetUpdate, *, actor: str | None = None
) -> ReferenceSetRead:
    """Rename and/or describe a set; a name clash (ignoring case) is refused."""
    row = get_owned(session, ReferenceSet, project_id, set_id)
    patch = changes(data)
    if 'name' in patch:
        ensure_unique_name(session, ReferenceSet, project_id, patch['name'], exclude_id=row.id)
    apply_patch(row, patch)
    session.add(row)
    session.flush()
    audit.record(
        session, project_id=project_id, actor=actor, action='reference_set.update', payload={'id': set_id, **patch}
    )
    return _read(session, row)


def delete_set(session: Session, project_id: str, set_id: str, *, actor: str | None = None) -> None:
    row = get_owned(session, ReferenceSet, project_id, set_id)
    for item in _items(session, set_id):
        session.delete(item)
    session.delete(row)
    session.flush()
    audit.record(session, project_id=project_id, actor=actor, action='reference_set.delete', payload={'name': row.name})


def get_set(session: Session, project_id: str, set_id: str) -> ReferenceSetRead:
    return _read(session, get_owned(session, ReferenceSet, project_id, set_id))


def list_sets(session: Session, project_id: str) -> list[ReferenceSetRead]:
    rows = session.exec(
        select(ReferenceSet).where(ReferenceSet.project_id == project_id).order_by(col(ReferenceSet.name))
    )
    return [_read(session, r) for r in rows]


def _check_item(session: Session, project_id: str, spec: ReferenceSetItemCreate) -> ReferenceSetItemCreate:
    if spec.asset_id:
        get_owned(session, Asset, project_id, spec.asset_id)
    elif not spec.content_text:
        raise Invalid('A reference set item needs an image or some text.', code='empty_item')
    return spec.model_copy(update={'asset_id': spec.asset_id or None})


def _new_item(project_id: str, set_id: str, spec: ReferenceSetItemCreate, *, position: int) -> ReferenceSetItem:
    """Adding one item and replacing them all must build rows alike; the spec is already checked."""
    return ReferenceSetItem(
        project_id=project_id,
        reference_set_id=set_id,
        asset_id=spec.asset_id,
        label=spec.label,
        content_text=spec.content_text,
        sort_order=position,
    )


def add_item(
    session: Session, project_id: str, set_id: str, data: ReferenceSetItemCreate, *, actor: str | None = None
) -> ReferenceSetRead:
    """Append an image (of this project) or a text note at the end of the set."""
    row = get_owned(session, ReferenceSet, project_id, set_id)
    spec = _check_item(session, project_id, data)
    session.add(_new_item(project_id, set_id, spec, position=len(_items(session, set_id))))
    session.flush()
    audit.record(
        session,
        project_id=project_id,
        actor=actor,
        action='reference_set.add_item',
        payload={'set': row.name, 'asset_id': spec.asset_id, 'label': spec.label},
    )
    return _read(session, row)


def remove_item(session: Session, project_id: str, item_id: str, *, actor: str | None = None) -> ReferenceSetRead:
    item = get_owned(session, ReferenceSetItem, project_id, item_id)
    row = get_owned(session, ReferenceSet, project_id, item.reference_set_id)
    session.delete(item)
    session.flush()
    _renumber(session, _items(session, row.id))
    audit.record(
        session, project_id=project_id, actor=actor, action='reference_set.remove_item', payload={'set': row.name}
    )
    return _read(session, row)


def move_item(session: Session, project_id: str, item_id: str, delta: int) -> ReferenceSetRead:
    """Move an item up (-1) or down (+1); the ends stay put rather than wrap around."""
    item = get_owned(session, ReferenceSetItem, project_id, item_id)
    items = _items(session, item.reference_set_id)
    pos = next(i for i, it in enumerate(items) if it.id == item_id)
    target = max(0, min(len(items) - 1, pos + delta))
    items.insert(target, items.pop(pos))
    _renumber(session, items)
    return get_set(session, project_id, item.reference_set_id)


def reorder_items(session: Session, project_id: str, set_id: str, item_ids: Sequence[str]) -> ReferenceSetRead:
    """Put the items in exactly this order; the list must name every item of the set once."""
    get_owned(session, ReferenceSet, project_id, set_id)
    items = {it.id: it for it in _items(session, set_id)}
    if sorted(item_ids) != sorted(items):
        raise Invalid('The new order must list every item of the set exactly once.', code='invalid_order')
    _renumber(session, [items[i] for i in item_ids])
    return get_set(session, project_id, set_id)


def replace_items(
    session: Session, project_id: str, set_id: str, specs: Sequence[ReferenceSetItemCreate]
) -> ReferenceSetRead:
    """Make the set hold exactly these items in this order (the bootstrap import treats items as authoritative)."""
    row = get_owned(session, ReferenceSet, project_id, set_id)
    checked = [_check_item(session, project_id, s) for s in specs]
    for item in _items(session, set_id):
        session.delete(item)
    session.flush()
    for pos, spec in enumerate(checked):
        session.add(_new_item(project_id, set_id, spec, position=pos))
    session.flush()
    return _read(session, row)
