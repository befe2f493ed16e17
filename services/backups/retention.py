"""What a snapshot holds and how it ages: the file walk, manifest checks, list, verify, restore and retention."""

from __future__ import annotations

import fnmatch
import logging
import os
import re
import shutil
import stat
import threading
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import Any, NamedTuple

from services.backups.object_store import ObjectStore, S3Target, hash_file
from services.errors import BackupFailed, Invalid, KromaError
from services.files import safe_child

log = logging.getLogger(__name__)

SHA_RE = re.compile(r'^[0-9a-f]{64}$')
MANIFEST_NAME_RE = re.compile(r'(\d{8}T\d{6}Z)-[0-9A-Za-z_-]+\.json$')
DB_PATH = 'kroma.db'
MASTER_KEY_NAME = 'master.key'
LEASE_TTL = timedelta(hours=24)

_locks: dict[tuple[str | None, str, str], threading.Lock] = {}
_locks_guard = threading.Lock()


def collect_files(
    data_dir: Path, projects: list[tuple[str, str, Path]], *, all_projects: bool, never: set[Path]
) -> list[tuple[str, Path]]:
    """Every regular file to back up, keyed by its path relative to the data dir (the first root wins)."""
    found: dict[str, Path] = {}
    home = data_dir.resolve()
    claimed: set[str] = set()
    roots: list[tuple[Path, PurePosixPath]] = []
    for _, slug, root in projects:
        try:
            rel_root = PurePosixPath(root.resolve().relative_to(home).as_posix())
        except ValueError:  # a storage root outside the data dir restores under projects/<slug>
            rel_root = PurePosixPath('projects', slug)
        claimed.add(slug)
        roots.append((root, rel_root))
    if all_projects:  # also folders without a project row, so a restore misses nothing
        roots.append((data_dir / 'projects', PurePosixPath('projects')))
    for root, rel_root in roots:
        for dirpath, dirnames, filenames in os.walk(root):  # never descends into symlinked folders
            if rel_root == PurePosixPath('projects') and Path(dirpath) == root:
                dirnames[:] = [d for d in dirnames if d not in claimed]
            for name in filenames:
                path = Path(dirpath, name)
                rel = str(rel_root / path.relative_to(root).as_posix())
                if rel not in found and not _excluded(path, name, never):
                    found[rel] = path
    return sorted(found.items())


def _excluded(path: Path, name: str, never: set[Path]) -> bool:
    """Secrets, temp files, the live database and anything that is not a plain file never leave the machine."""
    if name == MASTER_KEY_NAME or fnmatch.fnmatch(name, '.*.tmp'):
        return True
    try:
        if not stat.S_ISREG(os.lstat(path).st_mode):  # a symlink could point at master.key
            return True
    except FileNotFoundError:
        return True
    return path.resolve() in never


def store_lock(target: S3Target) -> threading.Lock:
    """One lock per bucket prefix in this process: a sweep never runs while a snapshot is deduplicating."""
    key = (target.endpoint_url, target.bucket, target.prefix.strip('/'))
    with _locks_guard:
        return _locks.setdefault(key, threading.Lock())


class Entry(NamedTuple):
    path: str
    sha256: str
    size: int
    mtime: float | None = None


def manifest_entries(manifest: dict[str, Any]) -> list[Entry]:
    """The database plus every file of a manifest, checked so no path can escape the restore folder."""
    db = manifest.get('db')
    files = manifest.get('files')
    if not isinstance(db, dict) or not isinstance(files, list):
        raise BackupFailed('The snapshot manifest has no database or file list.', code='backup_manifest_invalid')
    entries, seen = [], set()
    for item in [{**db, 'path': DB_PATH}, *files]:
        raw = item if isinstance(item, dict) else {}
        path, sha, size = raw.get('path'), raw.get('sha256'), raw.get('size')
        parts = PurePosixPath(path).parts if isinstance(path, str) else ()
        bad_path = not parts or PurePosixPath(path).is_absolute() or '..' in parts or '\\' in path or path in seen
        if bad_path or not isinstance(sha, str) or not SHA_RE.match(sha) or not isinstance(size, int) or size < 0:
            raise BackupFailed(
                f'The snapshot manifest has an invalid entry ({path!r}).', code='backup_manifest_invalid'
            )
        seen.add(path)
        mtime = raw.get('mtime')
        entries.append(Entry(path, sha, size, float(mtime) if isinstance(mtime, int | float) else None))
    return entries


def snapshot_time(key: str) -> datetime | None:
    """When a snapshot was taken, read from its manifest name (no download needed)."""
    match = MANIFEST_NAME_RE.search(key)
    return datetime.strptime(match.group(1), '%Y%m%dT%H%M%SZ').replace(tzinfo=UTC) if match else None


def select_retained(snapshot_times: Sequence[datetime], *, keep_daily: int, keep_weekly: int) -> set[datetime]:
    """Newest snapshot of each of the N most recent days and M most recent ISO weeks that have snapshots.

    Counting days that have snapshots (not calendar days back from today) means a machine that stopped
    backing up for a while never loses its last good snapshots to the calendar.
    """
    if keep_daily < 0 or keep_weekly < 0:
        raise Invalid('Retention counts cannot be negative.', code='backup_retention_invalid')
    kept: set[datetime] = set()
    days: set[date] = set()
    weeks: set[tuple[int, int]] = set()
    for t in sorted(set(snapshot_times), reverse=True):
        day, week = t.date(), tuple(t.isocalendar())[:2]
        if day not in days and len(days) < keep_daily:
            days.add(day)
            kept.add(t)
        if week not in weeks and len(weeks) < keep_weekly:
            weeks.add(week)
            kept.add(t)
    return kept


def _referenced(store: ObjectStore, keys: Sequence[str]) -> set[str]:
    """Every object hash the given manifests need; an unreadable manifest aborts (we cannot know what it needs)."""
    needed: set[str] = set()
    for key in keys:
        needed.update(e.sha256 for e in manifest_entries(store.get_json(key)))
    return needed


def _active_lease(store: ObjectStore, now: datetime) -> bool:
    """A fresh lease means a snapshot is uploading objects its manifest does not list yet."""
    return any(now - o['last_modified'] < LEASE_TTL for o in store.list(store.prefix('leases')))


def clear_own_leases(store: ObjectStore, owner: str) -> None:
    """Leases this process left after a failure are stale (it holds the only in-process lock), so drop them."""
    for obj in list(store.list(store.prefix('leases'))):
        try:
            if store.get_json(obj['key']).get('owner') == owner:
                store.delete([obj['key']])
        except KromaError:
            continue


def apply_retention(store: ObjectStore, *, keep_daily: int, keep_weekly: int) -> dict[str, Any]:
    """Delete expired manifests, then objects no remaining manifest references; skip the sweep during a snapshot."""
    if keep_daily + keep_weekly < 1:
        raise Invalid('Retention must keep at least one snapshot (daily or weekly).', code='backup_retention_invalid')
    listed = [o['key'] for o in store.list(store.prefix('snapshots')) if o['key'].endswith('.json')]
    times = {key: snapshot_time(key) for key in listed}
    retained = select_retained([t for t in times.values() if t], keep_daily=keep_daily, keep_weekly=keep_weekly)
    kept = [k for k in listed if times[k] is None or times[k] in retained]  # names we cannot date are kept
    expired = [k for k in listed if k not in kept]
    needed = _referenced(store, kept)  # read before deleting anything: a bad manifest stops the whole run
    store.delete(expired)
    log.info('retention kept %d snapshots and deleted %d', len(kept), len(expired))
    result: dict[str, Any] = {
        'kept': kept,
        'deleted_snapshots': expired,
        'deleted_objects': 0,
        'freed_bytes': 0,
        'sweep_skipped': False,
    }
    objects = list(store.list(store.prefix('objects')))
    now = datetime.now(UTC)
    if _active_lease(store, now):
        log.info('a snapshot is in progress; unreferenced objects are left for the next retention run')
        result['sweep_skipped'] = True
        return result
    # a snapshot may have completed since the first listing: its manifest protects its objects too
    late = [o['key'] for o in store.list(store.prefix('snapshots')) if o['key'].endswith('.json')]
    needed |= _referenced(store, [k for k in late if k not in listed])
    garbage = [
        o for o in objects if SHA_RE.match(o['key'].rsplit('/', 1)[-1]) and o['key'].rsplit('/', 1)[-1] not in needed
    ]
    result['deleted_objects'] = store.delete([o['key'] for o in garbage])
    result['freed_bytes'] = sum(o['size'] for o in garbage)
    return result


def list_snapshots(store: ObjectStore) -> list[dict[str, Any]]:
    """Snapshots as the bucket knows them (newest first), so another machine sees the same history."""
    found = []
    for obj in store.list(store.prefix('snapshots')):
        if not obj['key'].endswith('.json'):
            continue
        item: dict[str, Any] = {'snapshot_key': obj['key'], 'name': obj['key'].rsplit('/', 1)[-1]}
        try:
            m = store.get_json(obj['key'])
        except KromaError as e:
            item['error'] = e.user_message
            m = {}
        when = m.get('created_at')
        item.update(
            snapshot_id=m.get('snapshot_id'),
            created_at=datetime.fromisoformat(when) if isinstance(when, str) else snapshot_time(obj['key']),
            scope=m.get('scope'),
            projects=[p.get('slug') for p in m.get('projects', []) if isinstance(p, dict)],
            file_count=m.get('file_count', len(m.get('files', []))),
            size_bytes=m.get('size_bytes'),
        )
        found.append(item)
    return sorted(
        found, key=lambda i: (i['created_at'] or datetime.min.replace(tzinfo=UTC), i['snapshot_key']), reverse=True
    )


def verify_snapshot(store: ObjectStore, snapshot_key: str, *, deep: bool = True) -> dict[str, Any]:
    """Check every object of a snapshot: deep downloads and hashes all; shallow trusts stored sha256 + size."""
    key = store.normalize_snapshot_key(snapshot_key)
    entries = manifest_entries(store.get_json(key))
    by_sha: dict[str, list[Entry]] = {}
    for e in entries:
        by_sha.setdefault(e.sha256, []).append(e)
    missing: list[str] = []
    mismatched: list[str] = []
    for sha, group in by_sha.items():
        size = group[0].size
        if deep or any(e.path == DB_PATH for e in group):  # the database is always downloaded and hashed
            got = store.hash_object(store.object_key(sha))
            bad = got is not None and got != (sha, size)
        else:
            head = store.head(store.object_key(sha))
            got = head
            bad = head is not None and (
                head.get('Metadata', {}).get('sha256') != sha or head.get('ContentLength') != size
            )
        paths = [e.path for e in group]
        if got is None:
            missing.extend(paths)
        elif bad or any(e.size != size for e in group):
            mismatched.extend(paths)
    return {
        'ok': not missing and not mismatched,
        'snapshot_key': key,
        'checked': len(entries),
        'missing': sorted(missing),
        'mismatched': sorted(mismatched),
    }


def restore_snapshot(
    store: ObjectStore, snapshot_key: str, target: Path, progress: Callable[[float, str], None]
) -> dict[str, Any]:
    """Rebuild a data dir in a hidden sibling folder, checking every hash, then move it into place in one rename."""
    key = store.normalize_snapshot_key(snapshot_key)
    entries = manifest_entries(store.get_json(key))
    staging = target.parent / f'.{target.name}.restore-{uuid.uuid4().hex[:8]}.tmp'
    try:
        staging.mkdir(parents=True)
        first: dict[str, Path] = {}
        for i, entry in enumerate(entries):
            dest = safe_child(staging, *PurePosixPath(entry.path).parts)
            if entry.sha256 in first:  # same content twice: copy locally, then check it like a download
                tmp = dest.with_name(f'.{dest.name}.{uuid.uuid4().hex[:8]}.tmp')
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(first[entry.sha256], tmp)
                got = hash_file(tmp)
                os.replace(tmp, dest)
            else:
                got = store.download(entry.sha256, dest)
            if got != (entry.sha256, entry.size):
                raise BackupFailed(f'{entry.path} does not match its checksum.', code='backup_checksum_mismatch')
            first.setdefault(entry.sha256, dest)
            if entry.mtime is not None:
                os.utime(dest, (entry.mtime, entry.mtime))
            progress((i + 1) / len(entries), f'Restored {entry.path}')
        os.replace(staging, target)  # onto a missing or empty folder; fails if someone wrote into it meanwhile
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return {
        'snapshot_key': key,
        'target_dir': str(target),
        'files': len(entries) - 1,
        'bytes': sum(e.size for e in entries),
        'db_bytes': entries[0].size,
    }
