"""Backups (§8): content-addressed S3 snapshots of the database and project files, with verify, restore and retention."""

from __future__ import annotations

import logging
import os
import socket
import sqlite3
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from sqlmodel import select

from models.base import utcnow
from models.db import SessionFactory
from models.ops import Backup
from models.project import Project
from services.backups import retention
from services.backups.object_store import ObjectStore, S3Target, describe_s3_error, make_s3_client
from services.backups.retention import DB_PATH, MASTER_KEY_NAME, select_retained
from services.errors import BackupFailed, Invalid, KromaError, NotFound
from services.projects.projects import project_root
from services.security import audit
from services.security.master_keys import ENV_KEY_FILE

__all__ = ['BackupRead', 'BackupService', 'S3Target', 'make_s3_client', 'select_retained']

log = logging.getLogger(__name__)

Progress = Callable[[float, str], None]
ROW_UPDATE_EVERY_S = 1.0


@dataclass(frozen=True)
class BackupRead:
    """What the Backups page, the API and the CLI show for one backup run."""

    id: str
    snapshot_key: str
    status: str
    size_bytes: int
    uploaded_bytes: int
    file_count: int
    duration_s: float
    error: str
    created_at: datetime
    project_id: str | None = None
    verified_at: datetime | None = None

    @classmethod
    def from_row(cls, row: Backup) -> BackupRead:
        return cls(**{f.name: getattr(row, f.name) for f in fields(cls)})


def _notify(on_progress: Progress | None, fraction: float, message: str) -> None:
    """A broken progress listener (say, a closed browser tab) must never break the backup itself."""
    if on_progress is None:
        return
    try:
        on_progress(min(max(fraction, 0.0), 1.0), message)
    except Exception:  # noqa: BLE001
        log.warning('backup progress callback failed', exc_info=True)


def seal_copy(copy: Path, backup_id: str, key: str, *, project_id: str | None) -> None:
    """Make the database copy what the snapshot promises: its own backup row complete (a restore never shows it
    running), and for a project's snapshot only that project's rows: no other project, no token, no secret of any
    other scope, no studio-wide audit or schedule; VACUUM so deleted rows leave no trace in the file."""
    con = sqlite3.connect(copy)
    try:
        con.execute('PRAGMA foreign_keys=ON')
        con.execute("UPDATE backup SET status='complete', snapshot_key=? WHERE id=?", (key, backup_id))
        if project_id is not None:
            tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
            con.execute('DELETE FROM project WHERE id != ?', (project_id,))
            con.execute('DELETE FROM secret WHERE scope != ?', (project_id,))
            for table in tables:
                columns = {r[1] for r in con.execute(f'PRAGMA table_info("{table}")')}
                if table == 'apitoken' or table == 'apscheduler_jobs':
                    con.execute(f'DELETE FROM "{table}"')
                elif 'project_id' in columns:
                    con.execute(f'DELETE FROM "{table}" WHERE project_id IS NULL OR project_id != ?', (project_id,))
        con.commit()
        con.execute('VACUUM')
    finally:
        con.close()


class BackupService:
    """Snapshots are immutable manifests over shared objects, so unchanged files are uploaded once, ever."""

    def __init__(
        self,
        *,
        data_dir: Path,
        db_path: Path,
        s3_client: Any,
        target: S3Target,
        clock: Callable[[], datetime] = utcnow,
        workers: int = 4,
    ) -> None:
        self.data_dir, self.db_path, self.target, self.clock = Path(data_dir), Path(db_path), target, clock
        self.store = ObjectStore(s3_client, target)
        self.workers = max(1, workers)
        key_file, db = os.environ.get(ENV_KEY_FILE), self.db_path.resolve()
        self._never = {(self.data_dir / MASTER_KEY_NAME).resolve(), *([Path(key_file).resolve()] if key_file else [])}
        self._never |= {Path(f'{db}{suffix}') for suffix in ('', '-wal', '-shm', '-journal')}
        self._owner = f'{socket.gethostname()}:{os.getpid()}'

    def snapshot(
        self, session_factory: SessionFactory, *, project_slug: str | None = None, on_progress: Progress | None = None
    ) -> BackupRead:
        """Back up one project or all; the manifest is written last, so only finished snapshots ever exist."""
        projects = self._projects(session_factory, project_slug)
        created = self._now()
        with session_factory() as s:
            row = Backup(project_id=projects[0][0] if project_slug else None, status='running', created_at=created)
            s.add(row)
            s.flush()
            backup_id = row.id
        started = time.monotonic()
        key = self.store.manifest_key(created, backup_id)
        _notify(on_progress, 0.0, 'Starting backup')
        try:
            with retention.store_lock(self.target):
                manifest = self._snapshot_locked(
                    session_factory, backup_id, key, created, projects, project_slug, on_progress
                )
        except BaseException as e:
            message = describe_s3_error(e, self.target) if isinstance(e, Exception) else 'interrupted'
            if isinstance(e, KromaError):
                message = e.user_message
            self._update(
                session_factory, backup_id, status='failed', error=message, duration_s=time.monotonic() - started,
                event=('backup.failed', {'backup_id': backup_id, 'scope': project_slug or 'all', 'error': message}),
            )  # fmt: skip
            log.warning('backup %s failed: %s', backup_id, message)
            if not isinstance(e, Exception):
                raise
            raise BackupFailed(f'Backup failed: {message}.') from e
        summary = {k: v for k, v in manifest.items() if k != 'files'}
        row = self._update(
            session_factory, backup_id, status='complete', snapshot_key=key, manifest={**summary, 'key': key},
            size_bytes=manifest['size_bytes'], file_count=manifest['file_count'],
            uploaded_bytes=manifest['uploaded_bytes'], duration_s=round(time.monotonic() - started, 3),
            event=('backup.complete', {
                'backup_id': backup_id, 'scope': project_slug or 'all', 'snapshot_key': key,
                'bucket': self.target.bucket,
                'file_count': manifest['file_count'], 'size_bytes': manifest['size_bytes'],
                'uploaded_bytes': manifest['uploaded_bytes'],
            }),
        )  # fmt: skip
        _notify(on_progress, 1.0, 'Backup complete')
        log.info('backup %s complete: %d files, %d bytes uploaded', backup_id, row.file_count, row.uploaded_bytes)
        return BackupRead.from_row(row)

    def _snapshot_locked(
        self, sf: SessionFactory, backup_id: str, key: str, created: datetime,
        projects: list[tuple[str, str, Path]], scope: str | None, on_progress: Progress | None,
    ) -> dict[str, Any]:  # fmt: skip
        retention.clear_own_leases(self.store, self._owner)
        lease = self.store.lease_key(backup_id)
        self.store.put_json(lease, {'snapshot_id': backup_id, 'owner': self._owner, 'started_at': created.isoformat()})
        try:
            with tempfile.TemporaryDirectory(prefix='kroma-backup-') as tmp:
                copy = Path(tmp) / DB_PATH
                src = sqlite3.connect(
                    f'{self.db_path.resolve().as_uri()}?mode=rw', uri=True, timeout=30
                )  # never creates one
                dst = sqlite3.connect(copy)
                try:
                    src.backup(dst)  # one step: a consistent copy even while the studio writes (WAL)
                finally:
                    dst.close()
                    src.close()
                seal_copy(copy, backup_id, key, project_id=projects[0][0] if scope else None)
                db_sha, db_size, db_uploaded = self.store.put_file(copy)
            _notify(on_progress, 0.05, 'Database snapshot uploaded')
            files, uploaded = self._upload_files(
                sf,
                backup_id,
                retention.collect_files(self.data_dir, projects, all_projects=scope is None, never=self._never),
                on_progress,
            )
            manifest = {
                'version': 1, 'snapshot_id': backup_id, 'created_at': created.isoformat(), 'scope': scope or 'all',
                'projects': [{'id': pid, 'slug': slug} for pid, slug, _ in projects],
                'db': {'key': self.store.object_key(db_sha), 'sha256': db_sha, 'size': db_size},
                'files': files, 'file_count': len(files), 'size_bytes': db_size + sum(f['size'] for f in files),
                'uploaded_bytes': uploaded, 'db_uploaded_bytes': db_uploaded,
            }  # fmt: skip
            _notify(on_progress, 0.97, 'Writing snapshot manifest')
            self.store.put_json(key, manifest)  # last: from here on the snapshot exists
        finally:
            try:
                self.store.delete([lease])
            except Exception:  # noqa: BLE001
                log.warning('could not remove backup lease %s; the next backup will', lease)
        return manifest

    def _upload_files(
        self, sf: SessionFactory, backup_id: str, files: list[tuple[str, Path]], on_progress: Progress | None
    ) -> tuple[list[dict[str, Any]], int]:
        """Hash and upload in a few threads (S3 is latency-bound); the first error stops the rest."""
        done: list[dict[str, Any]] = []
        uploaded, last_row_update = 0, time.monotonic()
        claimed: dict[str, object] = {}

        def claim(sha: str) -> bool:  # identical files in one snapshot: one worker uploads (setdefault is atomic)
            token = object()
            return claimed.setdefault(sha, token) is token

        def one(rel: str, path: Path) -> tuple[dict[str, Any], int] | None:
            try:
                mtime = path.stat().st_mtime
                sha, size, sent = self.store.put_file(path, claim)
            except FileNotFoundError:
                log.info('%s disappeared during the backup; skipped', rel)
                return None
            return {'path': rel, 'sha256': sha, 'size': size, 'mtime': mtime}, sent

        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix='kroma-backup') as pool:
            pending = {pool.submit(one, rel, path) for rel, path in files}
            try:
                while pending:
                    finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for fut in finished:
                        if (res := fut.result()) is None:
                            continue
                        done.append(res[0])
                        uploaded += res[1]
                        verb = 'Uploaded' if res[1] else 'Unchanged'
                        _notify(on_progress, 0.05 + 0.9 * len(done) / max(len(files), 1), f'{verb} {res[0]["path"]}')
                    if time.monotonic() - last_row_update > ROW_UPDATE_EVERY_S:
                        self._update(sf, backup_id, file_count=len(done), uploaded_bytes=uploaded)
                        last_row_update = time.monotonic()
            except BaseException:
                for fut in pending:
                    fut.cancel()
                raise
        return sorted(done, key=lambda f: f['path']), uploaded

    def list_snapshots(self) -> list[dict[str, Any]]:
        """From the bucket's manifests, not the local rows, so a restored or second machine sees them too."""
        return self._guard('List snapshots', retention.list_snapshots, self.store)

    def verify(
        self, snapshot_key: str, *, deep: bool = True, session_factory: SessionFactory | None = None
    ) -> dict[str, Any]:
        """Re-check every object of a snapshot; stamps verified_at on its backup row when it passes."""
        result = self._guard('Verify', retention.verify_snapshot, self.store, snapshot_key, deep=deep)
        if session_factory is not None:
            with session_factory() as s:
                rows = s.exec(select(Backup).where(Backup.snapshot_key == result['snapshot_key'])).all()
                for row in rows if result['ok'] else ():
                    row.verified_at = self._now()
                    s.add(row)
                payload = {'snapshot_key': result['snapshot_key'], 'ok': result['ok'], 'deep': deep}
                payload |= {'checked': result['checked'], 'missing': len(result['missing'])}
                payload['mismatched'] = len(result['mismatched'])
                project_id = rows[0].project_id if rows else None
                audit.record(s, project_id=project_id, action='backup.verify', payload=payload)
        return result

    def apply_retention(
        self, *, keep_daily: int, keep_weekly: int, session_factory: SessionFactory | None = None
    ) -> dict[str, Any]:
        """Expire old snapshots and sweep unreferenced objects; rows of deleted snapshots become 'expired'."""
        with retention.store_lock(self.target):  # no snapshot of ours runs now, so our leases are stale
            self._guard('Retention', retention.clear_own_leases, self.store, self._owner)
            result = self._guard(
                'Retention', retention.apply_retention, self.store, keep_daily=keep_daily, keep_weekly=keep_weekly
            )
        if session_factory is not None:
            with session_factory() as s:
                query = select(Backup).where(Backup.snapshot_key.in_(result['deleted_snapshots']))  # type: ignore[attr-defined]
                for row in s.exec(query).all() if result['deleted_snapshots'] else ():
                    row.status = 'expired'
                    s.add(row)
                payload = {'bucket': self.target.bucket, 'keep_daily': keep_daily, 'keep_weekly': keep_weekly}
                payload |= {'kept': len(result['kept']), 'deleted_snapshots': len(result['deleted_snapshots'])}
                payload |= {'deleted_objects': result['deleted_objects'], 'freed_bytes': result['freed_bytes']}
                audit.record(s, project_id=None, action='backup.retention', payload=payload)
        return result

    def restore(
        self,
        snapshot_key: str,
        target_dir: Path,
        *,
        on_progress: Progress | None = None,
        session_factory: SessionFactory | None = None,
    ) -> dict[str, Any]:
        """Rebuild a data dir from a snapshot into a new or empty folder; the session (if any) only logs it."""
        target = Path(target_dir)
        if target.exists() and (not target.is_dir() or any(target.iterdir())):
            raise Invalid(
                f'{target} is not empty; restore only into a new or empty folder.', code='restore_target_not_empty'
            )
        result = self._guard(
            'Restore', retention.restore_snapshot, self.store, snapshot_key, target, partial(_notify, on_progress)
        )
        _notify(on_progress, 1.0, 'Restore complete')
        if session_factory is not None:
            with session_factory() as s:
                payload = {'snapshot_key': result['snapshot_key'], 'target_dir': result['target_dir']}
                payload |= {'files': result['files'], 'bytes': result['bytes']}
                audit.record(s, project_id=None, action='backup.restore', payload=payload)
        return result

    def _guard(self, action: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """S3 and disk errors become one plain BackupFailed; our own typed errors pass through unchanged."""
        try:
            return fn(*args, **kwargs)
        except KromaError:
            raise
        except Exception as e:
            raise BackupFailed(f'{action} failed: {describe_s3_error(e, self.target)}.') from e

    def _projects(self, sf: SessionFactory, slug: str | None) -> list[tuple[str, str, Path]]:
        with sf() as s:
            query = select(Project) if slug is None else select(Project).where(Project.slug == slug)
            rows = [(p.id, p.slug, project_root(p, self.data_dir)) for p in s.exec(query).all()]
        if slug is not None and not rows:
            raise NotFound(f'Project "{slug}" does not exist.', code='project_not_found')
        return rows

    def _now(self) -> datetime:
        """Aware UTC whatever the clock returns (datetime.utcnow is naive); rows and manifest names need UTC."""
        now = self.clock()
        return now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)

    def _update(
        self, sf: SessionFactory, backup_id: str, *, event: tuple[str, dict[str, Any]] | None = None, **values: Any
    ) -> Backup:
        """Update the row; a final status carries its audit event in the same transaction."""
        with sf() as s:
            row = s.get(Backup, backup_id)
            for name, value in values.items():
                setattr(row, name, value)
            s.add(row)
            if event is not None:
                audit.record(s, project_id=row.project_id, action=event[0], payload=event[1])
        return row
