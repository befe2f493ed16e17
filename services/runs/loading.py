"""What a job needs before its first call: its rows, its input files (read once per worker pass) and its provider
(built once per account per pass, so the account's concurrency limit is shared by all its jobs)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import httpx
from sqlmodel import Session, col, select

from models.db import SessionFactory
from models.project import Project
from models.runs import Candidate, Job, Run
from services.errors import StorageError
from services.projects import assets as assets_svc
from services.projects.assets import AssetStore
from services.providers import accounts as provider_accounts
from services.providers.base import ConcurrencyGate, InputImage, Provider, ProviderConfig
from services.providers.comfyui import UploadCache
from services.providers.registry import build_provider
from services.runs.commits import JobContext
from services.runs.slots import SlotPool


class JobLoader:
    """Reads only, so loading never waits behind another job's writes; a wrong master key or an unreadable input is
    raised here, before any call, and fails the job with its reason."""

    def __init__(
        self,
        sessions: SessionFactory,
        store: AssetStore,
        secrets: Any = None,
        provider_factory: Callable[[ProviderConfig], Provider] | None = None,
    ) -> None:
        self.sessions, self.store, self.secrets = sessions, store, secrets
        self.provider_factory = provider_factory
        self.client: httpx.AsyncClient | None = None
        self.slots: SlotPool | None = None  # the database's slots: each account's limit across all workers
        self.call_cap: int | None = None  # calls this process sends at once per account (a worker's --concurrency)
        self._providers: dict[str, Provider] = {}
        self._inputs: dict[str, bytes] = {}
        self._uploads = UploadCache()  # inputs already on each ComfyUI server, whichever account sent them
        self._lock = threading.Lock()

    def reset(self) -> None:
        """Forget the pass's providers, client and input bytes."""
        self.client = None
        self._providers.clear()
        self._inputs.clear()
        self._uploads = UploadCache()

    def load(self, job_id: str, cand_ids: list[str]) -> JobContext:
        """Reads only, so it never waits behind another job's writes; input files are read once per drain."""
        with self.sessions() as s:
            job = s.get(Job, job_id)
            run = s.get(Run, job.run_id)
            project = s.get(Project, job.project_id)
            inputs = []
            for i in job.inputs:
                data = self._inputs.get(i['asset_id'])
                if data is None:
                    asset = assets_svc.get_asset(s, project.id, i['asset_id'])
                    try:
                        data = self._inputs[i['asset_id']] = self.store.path_of(project, asset).read_bytes()
                    except OSError as e:  # the job fails with the reason; the worker goes on
                        raise StorageError(
                            f'The {i["role"]} input {asset.original_name or asset.id} could not be read: '
                            f'{e.strerror or e}.'
                        ) from e
                inputs.append(InputImage(role=i['role'], data=data, name=i.get('name', ''), sha256=i.get('sha256', '')))
            pending = list(
                s.exec(select(Candidate).where(col(Candidate.id).in_(cand_ids)).order_by(col(Candidate.index)))
            )
            provider = self.provider(s, run.provider_account_id)
        return JobContext(job, run, project, pending, tuple(inputs), provider)

    def provider(self, session: Session, account_id: str | None) -> Provider:
        key = account_id or 'local'
        with self._lock:
            if key not in self._providers:
                config = (
                    provider_accounts.provider_config(session, account_id, secrets=self.secrets)
                    if account_id
                    else ProviderConfig(kind='local', name='Offline renderer')
                )
                factory = self.provider_factory or (lambda c: build_provider(c, client=self.client))
                self._providers[key] = self._limit(factory(config), account_id)
            return self._providers[key]

    def _limit(self, provider: Provider, account_id: str | None) -> Provider:
        """This process's cap on the account's calls, the account's own limit held in the database, and the pass's
        record of the inputs already on each ComfyUI server."""
        if isinstance(getattr(provider, 'uploads', None), UploadCache):
            provider.uploads = self._uploads
        gate = getattr(provider, 'gate', None)
        if isinstance(gate, ConcurrencyGate):
            gate.local_cap = self.call_cap
            if self.slots is not None and account_id and not provider.is_offline:
                gate.shared = self.slots.for_account(account_id, gate.limit)
        return provider
