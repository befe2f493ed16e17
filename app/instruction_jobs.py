"""The copilot's instruction worker, with export and backup handlers that need the app's store and settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from models.db import SessionFactory
from models.project import ProjectRead
from services import backup_config, instructions
from services.audit import acting_as
from services.deps import Deps
from services.errors import Invalid
from services.exports import Exporter, ExportRequest
from services.instructions import Handler

INSTRUCTION_WORKER = 'instruction-worker'


def export_instruction(deps: Deps) -> Handler:
    """A confirmed 'export' instruction runs the same exporter as the Export page."""

    def handle(sessions: SessionFactory, project: ProjectRead, payload: dict[str, Any]) -> dict[str, Any]:
        req = ExportRequest(format=payload.get('format') or 'cbz', chapter=payload.get('chapter'))
        done = Exporter(sessions, deps.store).run(project.slug, req)
        return {'export_id': done.id, 'path': done.path, 'sha256': done.sha256}

    return handle


def backup_instruction(deps: Deps) -> Handler:
    """A confirmed 'backup' instruction snapshots the project to its configured bucket, like Back up now."""

    def handle(sessions: SessionFactory, project: ProjectRead, payload: dict[str, Any]) -> dict[str, Any]:
        values = deps.extras.get('backup') or {}
        if not values.get('db_path'):
            raise Invalid(
                'Backups need the SQLite database file; set KROMA_BACKUP_S3_BUCKET and use SQLite.',
                code='backup_unsupported',
            )
        with sessions() as s:
            target = backup_config.resolve_target(
                settings_values=values, project=project, secrets=deps.secrets, session=s
            )
        service = backup_config.backup_service(target, data_dir=deps.data_dir, db_path=Path(values['db_path']))
        done = service.snapshot(sessions, project_slug=project.slug)
        return {'snapshot_key': done.snapshot_key, 'status': done.status, 'files': done.file_count}

    return handle


def work_instructions(deps: Deps, agent_url: str | None = None) -> str | None:
    """Recover dead locks, then run at most one confirmed copilot instruction through the same services as the pages."""
    with acting_as(f'job:{INSTRUCTION_WORKER}'):
        return instructions.work_once(
            deps.sessions,
            store=deps.store,
            secrets=deps.secrets,
            agent_url=agent_url,
            wake_runs=deps.wake_runs,
            handlers={'export': export_instruction(deps), 'backup': backup_instruction(deps)},
        )
