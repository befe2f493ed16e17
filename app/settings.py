"""The one place that reads the environment: every KROMA_ setting, typed, with embedded defaults."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from platformdirs import user_data_dir
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Defaults start a working local studio with no keys: SQLite and files under the user data dir."""

    model_config = SettingsConfigDict(env_prefix='KROMA_', env_file='.env', extra='ignore', env_ignore_empty=True)

    home: Path = Field(default_factory=lambda: Path(user_data_dir('kroma-studio', appauthor=False)))
    host: str = '127.0.0.1'
    port: int = 8080
    database_url: str | None = None
    scheduler_enabled: bool = True
    log_level: str = 'INFO'
    demo: bool = True
    native: bool = False
    login_password: SecretStr | None = None
    storage_secret: SecretStr | None = None

    master_key: SecretStr | None = None
    master_key_file: Path | None = None
    master_key_previous: SecretStr | None = None

    backup_s3_endpoint_url: str | None = None
    backup_s3_bucket: str | None = None
    backup_s3_prefix: str = 'kroma'
    backup_s3_region: str = 'us-east-1'
    backup_cron: str = '0 3 * * *'
    backup_keep_daily: int = 7
    backup_keep_weekly: int = 4

    files_url: str | None = None  # s3://bucket/prefix keeps every project's files on S3 (a project may say otherwise)
    files_s3_endpoint_url: str | None = None
    files_s3_region: str = 'us-east-1'

    scratch_max_age_hours: int = 24
    run_lease_s: float = Field(default=30.0, ge=1.0, le=3600.0)
    agent_api_url: str | None = None
    storage_roots: list[Path] = Field(default_factory=list)
    allowed_hosts: list[str] = Field(default_factory=list)
    allow_link_local_urls: bool = False
    max_json_mb: float = 2
    max_request_mb: float = 512
    body_stall_s: float = 30

    @property
    def data_dir(self) -> Path:
        return self.home.expanduser().resolve()

    @property
    def db_url(self) -> str:
        return self.database_url or f'sqlite:///{self.data_dir / "kroma.db"}'

    @property
    def key_file(self) -> Path:
        return self.master_key_file or self.data_dir / 'master.key'


@lru_cache
def get_settings() -> Settings:
    return Settings()
