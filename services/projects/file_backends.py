"""Where a project's asset files live: the local root, or S3-compatible object storage shared by every worker.

Assets are content-addressed and written once, so an object never changes after its first upload. A machine
reads an S3 project's asset through a local cache under the project's root (same relative path), fetched
streaming and checked against the SHA-256 its row records; thumbnails are made from that cache and stay local."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.errors import Invalid, StorageError

log = logging.getLogger(__name__)

LOCAL = 'local'
CHUNK = 1 << 20
_BUCKET = re.compile(r'^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$')


@dataclass(frozen=True)
class FilesConfig:
    """The studio's file settings: where projects keep files unless they say otherwise, and the S3 endpoint."""

    default_url: str | None = None  # None or 'local': the data dir; 's3://bucket/prefix': the whole studio on S3
    endpoint_url: str | None = None  # any S3-compatible server; None: AWS
    region: str = 'us-east-1'


def parse_files_url(url: str) -> tuple[str, str]:
    """'s3://bucket/prefix' → (bucket, prefix); anything else is refused with the form it must have."""
    text = (url or '').strip()
    if not text.startswith('s3://'):
        raise Invalid(f'"{text}" is not a file location: use "local" or s3://bucket/prefix.', code='invalid_files_url')
    bucket, _, prefix = text[5:].partition('/')
    prefix = prefix.strip('/')
    if not _BUCKET.match(bucket):
        raise Invalid(f'"{bucket}" is not a valid S3 bucket name.', code='invalid_files_url')
    if any(part in ('', '.', '..') for part in prefix.split('/')) and prefix:
        raise Invalid(f'The prefix "{prefix}" may not hold empty, "." or ".." parts.', code='invalid_files_url')
    return bucket, prefix


def normalize_files_url(url: str | None) -> str:
    """'local' or the canonical s3://bucket/prefix form (no trailing slash)."""
    if url is None or url.strip().lower() in ('', LOCAL):
        return LOCAL
    bucket, prefix = parse_files_url(url)
    return f's3://{bucket}/{prefix}' if prefix else f's3://{bucket}'


class S3Files:
    """One bucket prefix holding projects' assets at <prefix>/<project slug>/<relative path>."""

    def __init__(self, client: Any, url: str) -> None:
        self.client, self.url = client, normalize_files_url(url)
        self.bucket, self.prefix = parse_files_url(self.url)

    def key(self, slug: str, rel: str) -> str:
        return '/'.join(p for p in (self.prefix, slug, rel) if p)

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
            return True
        except self.client.exceptions.ClientError as e:
            if str(e.response.get('Error', {}).get('Code', '')) in {'404', 'NoSuchKey', 'NotFound'}:
                return False
            raise self._failed('check', key, e) from e
        except Exception as e:
            raise self._failed('check', key, e) from e

    def put(self, key: str, data: bytes, sha256: str) -> None:
        """Written once: an object already there holds the same bytes (its key is their hash)."""
        if self.exists(key):
            return
        try:
            self.client.put_object(Bucket=self.bucket, Key=key, Body=data, Metadata={'sha256': sha256})
        except Exception as e:
            raise self._failed('upload', key, e) from e

    def upload_file(self, key: str, path: Path, sha256: str) -> None:
        try:
            with open(path, 'rb') as fh:
                self.client.put_object(Bucket=self.bucket, Key=key, Body=fh, Metadata={'sha256': sha256})
        except OSError as e:
            raise StorageError(f'Could not read {path.name}: {e.strerror or e}') from e
        except Exception as e:
            raise self._failed('upload', key, e) from e

    def fetch(self, key: str, target: Path, sha256: str) -> Path:
        """Stream the object into a temp file beside the target, check its SHA-256, then rename it into place."""
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f'.{target.name}.', suffix='.part')
        try:
            with os.fdopen(fd, 'wb') as fh:
                got = self._stream(key, fh.write)
                fh.flush()
                os.fsync(fh.fileno())
            if got != sha256:
                raise StorageError(f'{key} in bucket {self.bucket} does not match its recorded SHA-256; not used.')
            os.replace(tmp, target)
        finally:
            Path(tmp).unlink(missing_ok=True)
        return target

    def sha256_of(self, key: str) -> str:
        """Read the object back and hash it: what a move checks before it deletes the source."""
        return self._stream(key, lambda _b: None)

    def delete(self, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=key)
        except Exception as e:
            raise self._failed('delete', key, e) from e

    def _stream(self, key: str, sink: Any) -> str:
        digest = hashlib.sha256()
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=key)['Body']
            for block in body.iter_chunks(CHUNK):
                digest.update(block)
                sink(block)
        except StorageError:
            raise
        except Exception as e:
            raise self._failed('read', key, e) from e
        return digest.hexdigest()

    def _failed(self, action: str, key: str, exc: BaseException) -> StorageError:
        from services.backups.object_store import S3Target, describe_s3_error

        why = describe_s3_error(exc, S3Target(bucket=self.bucket, endpoint_url=None))
        return StorageError(f'Could not {action} {key.rsplit("/", 1)[-1]} in S3 bucket {self.bucket}: {why}.')


class FileBackends:
    """One S3 client per location, built on first use and shared by threads (boto3 clients are thread-safe)."""

    def __init__(self, config: FilesConfig) -> None:
        self.config = config
        self._made: dict[str, S3Files] = {}
        self._lock = threading.Lock()

    def url_for(self, project_files_url: str | None) -> str:
        """A project's own setting wins; else the studio's default."""
        return normalize_files_url(project_files_url or self.config.default_url)

    def s3(self, url: str) -> S3Files:
        url = normalize_files_url(url)
        with self._lock:
            if url not in self._made:
                from services.backups.object_store import S3Target, make_s3_client

                bucket, _ = parse_files_url(url)
                target = S3Target(bucket=bucket, endpoint_url=self.config.endpoint_url, region=self.config.region)
                self._made[url] = S3Files(make_s3_client(target), url)
            return self._made[url]

    def for_project(self, project: Any) -> S3Files | None:
        """The project's S3 location, or None when its files are local."""
        url = self.url_for(getattr(project, 'files_url', None))
        return None if url == LOCAL else self.s3(url)
