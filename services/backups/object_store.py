"""Where backups go: the S3 target, a client that fails in bounded time, and a content-addressed object store."""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from services.errors import BackupFailed, NotFound, StorageError

log = logging.getLogger(__name__)

CHUNK = 1 << 20
SPOOL_MAX = 16 * 1024 * 1024
MISSING_CODES = {'404', 'NoSuchKey', 'NotFound'}


@dataclass(frozen=True)
class S3Target:
    """Where snapshots go; credentials None means boto3's usual chain (env, profile, instance role)."""

    bucket: str
    prefix: str = 'kroma'
    endpoint_url: str | None = None
    region: str = 'us-east-1'
    access_key_id: str | None = field(default=None, repr=False)
    secret_access_key: str | None = field(default=None, repr=False)


# boto3 is imported by the functions that need it: it loads with the first backup, not at studio start.


@functools.cache
def _shared_loader() -> Any:
    from botocore.loaders import create_loader

    return create_loader()


@functools.cache
def _transfer_config() -> Any:
    from boto3.s3.transfer import TransferConfig

    return TransferConfig(multipart_threshold=64 * 1024 * 1024, multipart_chunksize=16 * 1024 * 1024, use_threads=False)


def make_s3_client(
    target: S3Target, *, connect_timeout: float = 5.0, read_timeout: float = 60.0, max_attempts: int = 4
) -> Any:
    """A client that gives up in bounded time: a dead endpoint must fail a backup, not hang the scheduler."""
    import boto3
    import botocore.session
    from botocore.config import Config

    options: dict[str, Any] = {
        'connect_timeout': connect_timeout,
        'read_timeout': read_timeout,
        'retries': {'max_attempts': max_attempts, 'mode': 'standard'},
        'signature_version': 's3v4',
    }
    if target.endpoint_url:
        options['s3'] = {'addressing_style': 'path'}  # most S3-compatible servers want path-style URLs
    if 'request_checksum_calculation' in Config.OPTION_DEFAULTS:
        # newer botocore adds CRC trailers some S3-compatible servers reject; we check sha256 ourselves anyway
        options['request_checksum_calculation'] = 'when_required'
        options['response_checksum_validation'] = 'when_required'
    session = botocore.session.Session()
    session.register_component('data_loader', _shared_loader())  # parsed service models are reused across clients
    return boto3.session.Session(botocore_session=session).client(
        's3',
        endpoint_url=target.endpoint_url or None,
        region_name=target.region or 'us-east-1',
        aws_access_key_id=target.access_key_id,
        aws_secret_access_key=target.secret_access_key,
        config=Config(**options),
    )


def describe_s3_error(exc: BaseException, target: S3Target) -> str:
    """Turn transport and S3 errors into one plain sentence that names the cause, never a credential."""
    from boto3.exceptions import Boto3Error
    from botocore import exceptions as bce

    where = target.endpoint_url or 'S3'
    cause: BaseException | None = exc
    for _ in range(8):  # transfer errors wrap the connection error that caused them
        if isinstance(cause, bce.ConnectionError | bce.HTTPClientError):
            return f'could not reach the storage server at {where}'
        cause = cause and (cause.__cause__ or cause.__context__)
    if isinstance(exc, bce.NoCredentialsError):
        return 'no S3 credentials are configured'
    if isinstance(exc, bce.ClientError):
        code = str(exc.response.get('Error', {}).get('Code', ''))
        if code == 'NoSuchBucket':
            return f'bucket "{target.bucket}" does not exist'
        if code in {'AccessDenied', 'InvalidAccessKeyId', 'SignatureDoesNotMatch', '403'}:
            return f'access to bucket "{target.bucket}" was denied; check the S3 credentials'
        return f'the storage server refused the request ({code or "unknown error"})'
    if isinstance(exc, bce.BotoCoreError | Boto3Error):
        return f'the transfer to {where} failed ({type(exc).__name__})'
    if isinstance(exc, sqlite3.Error):
        return f'the database could not be copied ({exc})'
    if isinstance(exc, StorageError | OSError):
        return f'a local file could not be read or written ({exc})'
    return str(exc) or type(exc).__name__


def _missing(e: Any) -> bool:
    return str(e.response.get('Error', {}).get('Code', '')) in MISSING_CODES


def hash_file(path: Path) -> tuple[str, int]:
    """SHA-256 and size from one read, so the recorded size always belongs to the recorded hash."""
    with open(path, 'rb') as fh:
        reader = _HashingReader(fh)
        while reader.read(CHUNK):
            pass
    return reader.digest.hexdigest(), reader.size


class _HashingReader:
    """File-like view that hashes what it yields, so a copy is checked without a second read."""

    def __init__(self, raw: Any) -> None:
        self.raw, self.digest, self.size = raw, hashlib.sha256(), 0

    def read(self, n: int = CHUNK) -> bytes:
        data = self.raw.read(n)
        self.digest.update(data)
        self.size += len(data)
        return data


class ObjectStore:
    """Content-addressed objects and JSON manifests under one bucket prefix."""

    def __init__(self, client: Any, target: S3Target) -> None:
        self.client, self.target = client, target
        self.root = target.prefix.strip('/')

    def _key(self, *parts: str) -> str:
        return '/'.join(p for p in (self.root, *parts) if p)

    def object_key(self, sha: str) -> str:
        return self._key('objects', sha[:2], sha)

    def manifest_key(self, created_at: datetime, snapshot_id: str) -> str:
        return self._key('snapshots', f'{created_at:%Y%m%dT%H%M%SZ}-{snapshot_id}.json')

    def lease_key(self, snapshot_id: str) -> str:
        return self._key('leases', f'{snapshot_id}.json')

    def prefix(self, kind: str) -> str:
        """'objects', 'snapshots' or 'leases': the folder-like key prefix to list."""
        return self._key(kind) + '/'

    def normalize_snapshot_key(self, snapshot_key: str) -> str:
        """Accept the full manifest key or just its file name, so the CLI can take either."""
        key = snapshot_key.strip()
        if not key.startswith(self.prefix('snapshots')):
            key = self.prefix('snapshots') + key.rsplit('/', 1)[-1]
        return key if key.endswith('.json') else key + '.json'

    def head(self, key: str) -> dict[str, Any] | None:
        """Metadata of an object, or None when it is missing (other errors propagate)."""
        try:
            return self.client.head_object(Bucket=self.target.bucket, Key=key)
        except self.client.exceptions.ClientError as e:
            if _missing(e):
                return None
            raise

    def put_file(self, path: Path, claim: Callable[[str], bool] = lambda _: True) -> tuple[str, int, int]:
        """Hash path and upload it only if its object is missing; returns (sha256, size, uploaded bytes).

        claim(sha) is False when another worker of the same snapshot already handles that content.
        """
        sha, size = hash_file(path)
        if not claim(sha) or self.head(self.object_key(sha)) is not None:
            return sha, size, 0
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_MAX) as spool:
            with open(path, 'rb') as fh:
                reader = _HashingReader(fh)
                while block := reader.read(CHUNK):
                    spool.write(block)
            if (copied := reader.digest.hexdigest()) != sha:  # changed since hashed: back up what we copied
                log.info('%s changed while being backed up; using the newer content', path.name)
                sha, size = copied, reader.size
                if not claim(sha) or self.head(self.object_key(sha)) is not None:
                    return sha, size, 0
            spool.seek(0)
            self.client.upload_fileobj(
                spool,
                self.target.bucket,
                self.object_key(sha),
                ExtraArgs={'Metadata': {'sha256': sha, 'size': str(size)}},
                Config=_transfer_config(),
            )
        return sha, size, size

    def put_json(self, key: str, payload: dict[str, Any]) -> None:
        body = json.dumps(payload, indent=1, sort_keys=True).encode('utf-8')
        sha = hashlib.sha256(body).hexdigest()
        self.client.put_object(
            Bucket=self.target.bucket, Key=key, Body=body, ContentType='application/json', Metadata={'sha256': sha}
        )

    def get_json(self, key: str) -> dict[str, Any]:
        try:
            body = self.client.get_object(Bucket=self.target.bucket, Key=key)['Body'].read()
        except self.client.exceptions.ClientError as e:
            if _missing(e):
                raise NotFound(f'Snapshot {key.rsplit("/", 1)[-1]} does not exist in the bucket.') from e
            raise
        try:
            data = json.loads(body)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise BackupFailed(f'Snapshot manifest {key} is not a JSON object.', code='backup_manifest_invalid')
        return data

    def hash_object(self, key: str, sink: Callable[[bytes], Any] | None = None) -> tuple[str, int] | None:
        """Stream an object (into sink, if given) and hash it on the way; None when it is missing."""
        try:
            reader = _HashingReader(self.client.get_object(Bucket=self.target.bucket, Key=key)['Body'])
        except self.client.exceptions.ClientError as e:
            if _missing(e):
                return None
            raise
        while block := reader.read(CHUNK):
            if sink is not None:
                sink(block)
        return reader.digest.hexdigest(), reader.size

    def download(self, sha: str, dest: Path) -> tuple[str, int]:
        """Stream an object into dest via a temp file in the same folder; a wrong hash never reaches dest."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f'.{dest.name}.', suffix='.tmp')
        try:
            with os.fdopen(fd, 'wb') as fh:
                got = self.hash_object(self.object_key(sha), fh.write)
                fh.flush()
                os.fsync(fh.fileno())
            if got is None or got[0] != sha:
                what = 'is missing' if got is None else 'does not match its checksum'
                raise BackupFailed(f'{dest.name}: the stored object {what}.', code='backup_checksum_mismatch')
            os.replace(tmp, dest)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return got

    def list(self, prefix: str) -> Iterator[dict[str, Any]]:
        """Every object under prefix (key, size, last_modified), page by page."""
        paginator = self.client.get_paginator('list_objects_v2')
        for page in paginator.paginate(Bucket=self.target.bucket, Prefix=prefix):
            for obj in page.get('Contents', []):
                modified = obj.get('LastModified') or datetime.now(UTC)
                yield {'key': obj['Key'], 'size': obj.get('Size', 0), 'last_modified': modified}

    def delete(self, keys: list[str]) -> int:
        """Delete keys in batches of 1000; any per-key error fails loudly rather than being skipped."""
        deleted = 0
        for i in range(0, len(keys), 1000):
            batch = [{'Key': k} for k in keys[i : i + 1000]]
            resp = self.client.delete_objects(Bucket=self.target.bucket, Delete={'Objects': batch, 'Quiet': True})
            if errors := resp.get('Errors'):
                raise BackupFailed(f'Could not delete {len(errors)} objects (first: {errors[0].get("Key")}).')
            deleted += len(batch)
        return deleted
