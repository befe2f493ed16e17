"""Where a project's files may live, moving them there, and deleting exactly the files its rows name.

A storage root is the project's own: never the data dir, never a folder holding the data dir or the database, never
inside (or around) another project's root, and a symlink counts where it points. Deleting a project removes the
files its asset, export and run rows name, then the folders that became empty; never a whole tree.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

from sqlmodel import Session, select

from models.assets import Asset
from models.layout import Export
from models.project import Project
from models.runs import Run
from services.errors import Conflict, Invalid
from services.files import sha256_file

log = logging.getLogger(__name__)


def default_root(project: Project, data_dir: Path) -> Path:
    return data_dir / 'projects' / project.slug


def current_root(project: Project, data_dir: Path) -> Path:
    return Path(project.storage_root) if project.storage_root else default_root(project, data_dir)


def check_root(
    session: Session, project: Project, text: str, *, data_dir: Path, db_path: Path | None = None
) -> Path | None:
    """The resolved folder for a new storage root, or None for 'back to the data dir'; refuses what it may not own."""
    text = (text or '').strip()
    if not text:
        return None
    if '\x00' in text or not Path(text).expanduser().is_absolute():
        raise Invalid('Storage root must be an absolute path.', code='invalid_storage_root')
    path = Path(text).expanduser().resolve()  # a symlink is judged by where it points
    data = data_dir.resolve()
    if path == default_root(project, data):
        return None
    forbidden = [(data, 'the data dir')]
    if db_path is not None:
        forbidden.append((db_path.resolve().parent, "the database's folder"))
    for place, name in forbidden:
        if path == place or place.is_relative_to(path):
            raise Invalid(
                f'Storage root {path} is or contains {name}; choose a folder of its own.', code='storage_root_owned'
            )
        if path.is_relative_to(place):
            raise Invalid(
                f'Storage root {path} is inside {name}; leave it empty to use the data dir, or choose a folder outside.',
                code='storage_root_owned',
            )
    for other in session.exec(select(Project).where(Project.id != project.id)).all():
        theirs = current_root(other, data).resolve()
        if path == theirs or path.is_relative_to(theirs) or theirs.is_relative_to(path):
            raise Invalid(
                f'Storage root {path} overlaps the files of project "{other.slug}" ({theirs}).',
                code='storage_root_owned',
            )
    if not (path.is_dir() and os.access(path, os.W_OK)):
        raise Invalid(f'{path} does not exist or is not writable.', code='invalid_storage_root')
    return path


def named_files(session: Session, project: Project, root: Path) -> list[Path]:
    """Every file under the root that the project's own rows name: assets and their thumbnails, exports, run logs."""
    found: list[Path] = []
    root = root.resolve()
    for asset in session.exec(select(Asset).where(Asset.project_id == project.id)).all():
        found += [root / asset.path, root / '.thumbs' / f'{asset.sha256}.webp']
    for export in session.exec(select(Export).where(Export.project_id == project.id)).all():
        if export.path:
            found.append(root / export.path)
    for run_id in session.exec(select(Run.id).where(Run.project_id == project.id)).all():
        found.append(root / 'runs' / run_id / 'run.json')
    inside = {p.resolve() for p in found if p.resolve().is_relative_to(root)}
    return sorted(p for p in inside if p.is_file())


def move_files(session: Session, project: Project, source: Path, target: Path) -> int:
    """Copy every named file to the new root, check its SHA-256, then remove the old copy; returns the count."""
    files = named_files(session, project, source)
    copied: list[tuple[Path, Path]] = []
    for src in files:
        dst = target / src.relative_to(source.resolve())
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst)
        if sha256_file(src) != sha256_file(dst):
            raise Conflict(f'Copying {src.name} to {target} did not verify; nothing was moved.', code='move_failed')
        copied.append((src, dst))
    for src, _ in copied:
        src.unlink(missing_ok=True)
    remove_empty_dirs(source)
    return len(copied)


def delete_files(session: Session, project: Project, root: Path) -> int:
    """Remove only the files the project's rows name, then the folders left empty under its root."""
    files = named_files(session, project, root)
    for path in files:
        path.unlink(missing_ok=True)
    remove_empty_dirs(root)
    return len(files)


def remove_empty_dirs(root: Path) -> None:
    """Bottom-up: a folder goes only when nothing is left in it; a folder holding anyone's file stays."""
    if not root.is_dir() or root.is_symlink():
        return
    for folder in sorted((p for p in root.rglob('*') if p.is_dir() and not p.is_symlink()), reverse=True):
        if not any(folder.iterdir()):
            folder.rmdir()
    if not any(root.iterdir()):
        root.rmdir()
