"""The studio-wide backup target and schedule from settings: plain values, never a secret."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

DEFAULT_REGION = 'us-east-1'
DEFAULT_PREFIX = 'kroma'


@dataclass(frozen=True)
class BackupDefaults:
    """What KROMA_BACKUP_* say; a project's own S3 fields override them field by field."""

    bucket: str | None = None
    prefix: str = DEFAULT_PREFIX
    endpoint_url: str | None = None
    region: str = DEFAULT_REGION
    cron: str = '0 3 * * *'
    keep_daily: int = 7
    keep_weekly: int = 4
    db_path: Path | None = None  # the SQLite file a snapshot copies; None on another database
    database: str = 'sqlite'  # the studio database's dialect: the built-in snapshot copies a SQLite file only

    def target_fields(self) -> dict[str, Any]:
        """The four target fields as plain values (the scheduled job's pickled arguments)."""
        return {k: v for k, v in asdict(self).items() if k in ('bucket', 'prefix', 'endpoint_url', 'region')}
