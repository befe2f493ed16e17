"""The collaborators every page, API route and job receives, built once in app/ (no module-level singletons)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from models.db import SessionFactory
from services.assets import AssetStore


@dataclass(frozen=True)
class Deps:
    data_dir: Path
    sessions: SessionFactory
    store: AssetStore
    secrets: Any = None
    key_file: Path | None = None
    wake_runs: Callable[[], None] = lambda: None
    extras: dict[str, Any] = field(default_factory=dict)
