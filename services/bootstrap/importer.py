"""Bootstrap (J03): a prompt any chatbot can answer, and an import of its answer with a dry-run diff."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import or_
from sqlmodel import Session, col, select

from models.assets import Asset
from models.project import ProjectRead, ProjectUpdate
from models.provider import ProviderAccount, Secret
from services.bootstrap import continuity
from services.bootstrap.diff import SECTIONS, Change, SectionReport, plan_section
from services.bootstrap.prompt import build_prompt, current_settings
from services.bootstrap.schema import READ_ONLY, BootstrapPayload, parse_payload
from services.errors import Invalid, parse
from services.projects import projects
from services.security import audit

log = logging.getLogger(__name__)

__all__ = ['ImportReport', 'build_prompt', 'current_settings', 'extract_json', 'import_answer']

MAX_NESTING = 32
MAX_ANSWER = 2_000_000
FENCE = re.compile(r'```[\w-]*[ \t]*\n?(.*?)```', re.DOTALL)
VERBS = {True: ('to create', 'to update', 'to delete'), False: ('created', 'updated', 'deleted')}


@dataclass
class ImportReport:
    """What an import would do (dry run) or did, per section; the same answer twice reports nothing changed."""

    mode: str
    dry_run: bool
    sections: list[SectionReport] = field(default_factory=list)
    project_fields: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        counted = ('create', 'update', 'delete')
        return bool(self.project_fields) or any(c.action in counted for s in self.sections for c in s.changes)

    def lines(self) -> list[str]:
        """A plain-text diff for the CLI and the preview."""
        create, update, delete = VERBS[self.dry_run]
        head = 'Dry run: nothing written.' if self.dry_run else 'Imported.'
        out = [f'{head} Mode: {self.mode}.']
        out.append(
            f'project: {", ".join(self.project_fields)} {update}' if self.project_fields else 'project: unchanged'
        )
        for s in self.sections:
            n = s.counts()
            if s.section in READ_ONLY:
                out.append(f'{s.section} (names only, never imported): {n["unchanged"]} set up, {n["missing"]} missing')
                out += [f'  ? {name}: not set up; add it in Setup' for name in s.names('missing')]
                continue
            out.append(
                f'{s.section} ({s.mode}): {n["create"]} {create}, {n["update"]} {update}, '
                f'{n["delete"]} {delete}, {n["unchanged"]} unchanged'
            )
            for c in s.changes:
                if c.action == 'create':
                    out.append(f'  + {c.name}')
                elif c.action == 'update':
                    out.append(f'  ~ {c.name}: {", ".join(c.fields)}')
                elif c.action == 'delete':
                    out.append(f'  - {c.name}')
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            'mode': self.mode,
            'dry_run': self.dry_run,
            'changed': self.changed,
            'project_fields': list(self.project_fields),
            'sections': {
                s.section: {'mode': s.mode, **s.counts(), 'changes': [c.__dict__ for c in s.changes]}
                for s in self.sections
            },
        }


def _matching_brace(text: str, start: int) -> int | None:
    """Index of the brace closing the object opened at start, skipping braces inside JSON strings."""
    depth, in_string, escaped = 0, False, False
    for i in range(start, len(text)):
        ch = text[i]
        if in_string:
            escaped = ch == '\\' and not escaped
            if ch == '"' and not escaped:
                in_string = False
            continue
        if ch == '"':
            in_string = True
        elif ch == '{':
            depth += 1
        elif ch == '}':
            depth -= 1
            if depth == 0:
                return i
    return None


def _nesting(text: str) -> int:
    """The deepest bracket nesting outside strings, so a pathological answer is refused before the parser recurses."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            escaped = ch == '\\' and not escaped
            if ch == '"' and not escaped:
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in '{[':
            depth += 1
            deepest = max(deepest, depth)
        elif ch in '}]':
            depth -= 1
    return deepest


def _object_depth(value: Any) -> int:
    """The same depth for an already parsed answer, walked without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            if depth <= MAX_NESTING:
                stack.extend((v, depth + 1) for v in (item.values() if isinstance(item, dict) else item))
    return deepest


def extract_json(text: str) -> Any:
    """Find the JSON in a chatbot's whole answer: raw, in a ``` fence, or from the first '{' to its match."""
    text = (text or '').strip()
    if not text:
        raise Invalid("Paste the chatbot's answer first.", code='bootstrap_empty')
    if len(text) > MAX_ANSWER:
        raise Invalid('The answer is over 2 MB; paste only the JSON part.', code='bootstrap_too_large')
    if (depth := _nesting(text)) > MAX_NESTING:
        raise Invalid(
            f'The answer nests {depth} levels deep; a bootstrap answer needs at most {MAX_NESTING}.',
            code='bootstrap_too_deep',
        )
    candidates = [text, *(m.group(1).strip() for m in FENCE.finditer(text))]
    start = text.find('{')
    if start >= 0:
        end = _matching_brace(text, start)
        if end is not None:
            candidates.append(text[start : end + 1])
        candidates.append(text[start : text.rfind('}') + 1])
    error: json.JSONDecodeError | None = None
    for candidate in candidates:
        try:
            return json.loads(candidate)
        except json.JSONDecodeError as e:
            if candidate.startswith('{') or error is None:
                error = e
        except ValueError as e:  # an integer longer than Python converts (4,300 digits)
            raise Invalid(f'A number in the answer is too long to read ({e}).', code='bootstrap_bad_json') from e
    if start < 0 or error is None:
        raise Invalid('No JSON object found in the answer (nothing between { and }).', code='bootstrap_no_json')
    raise Invalid(
        f'The JSON in the answer is broken: {error.msg} at line {error.lineno}, column {error.colno}.',
        code='bootstrap_bad_json',
    )


class ImageResolver:
    """Finds an image of the project by sha256 or file name and collects every miss with its field path."""

    def __init__(self, session: Session, project_id: str) -> None:
        self.session, self.project_id = session, project_id
        self.errors: list[str] = []
        self._index: tuple[dict[str, str], dict[str, set[str]]] | None = None

    def _load(self) -> tuple[dict[str, str], dict[str, set[str]]]:
        if self._index is None:
            rows = self.session.exec(
                select(Asset.id, Asset.sha256, Asset.original_name)
                .where(Asset.project_id == self.project_id)
                .order_by(col(Asset.created_at), col(Asset.id))
            ).all()
            by_sha: dict[str, str] = {}
            by_name: dict[str, set[str]] = {}
            for asset_id, sha, name in rows:
                by_sha.setdefault(sha, asset_id)
                if name:
                    by_name.setdefault(name.lower(), set()).add(sha)
            self._index = (by_sha, by_name)
        return self._index

    def __call__(self, ref: str, path: str) -> str | None:
        by_sha, by_name = self._load()
        ref = ref.strip()
        if ref.lower() in by_sha:
            return by_sha[ref.lower()]
        shas = by_name.get(ref.lower(), set())
        if len(shas) == 1:
            return by_sha[next(iter(shas))]
        reason = (
            f'{len(shas)} different images are named "{ref}"; use the sha256'
            if shas
            else 'no image with this sha256 or file name in the project'
        )
        self.errors.append(f'{path}: {reason}')
        return None


def _mode_for(section: str, mode: str | Mapping[str, str] | None, payload: BootstrapPayload) -> str:
    chosen = (mode.get(section) if isinstance(mode, Mapping) else mode) or payload.mode or 'merge'
    if chosen not in ('merge', 'replace'):
        raise Invalid(f'Mode must be "merge" or "replace", not "{chosen}".', code='invalid_mode')
    return chosen


def _read_only(session: Session, project_id: str, payload: BootstrapPayload) -> list[SectionReport]:
    """Provider accounts and secrets are only checked by name: an answer can never create, change or fill them."""
    out = []
    if payload.provider_accounts is not None:
        rows = session.exec(
            select(ProviderAccount.name).where(
                or_(col(ProviderAccount.project_id).is_(None), ProviderAccount.project_id == project_id)
            )
        ).all()
        names = {n.lower() for n in rows}
        changes = [
            Change(a.name, 'unchanged' if a.name.lower() in names else 'missing') for a in payload.provider_accounts
        ]
        out.append(SectionReport('provider_accounts', 'read-only', changes))
    if payload.secrets is not None:
        rows = session.exec(
            select(Secret.provider, Secret.name).where(col(Secret.scope).in_([project_id, 'global']))
        ).all()
        have = {(p.lower(), n.lower()) for p, n in rows}
        changes = [
            Change(f'{s.provider}/{s.name}', 'unchanged' if (s.provider.lower(), s.name.lower()) in have else 'missing')
            for s in payload.secrets
        ]
        out.append(SectionReport('secrets', 'read-only', changes))
    return out


def import_answer(
    session: Session,
    project: ProjectRead,
    answer: str | dict[str, Any],
    *,
    mode: str | Mapping[str, str] | None = None,
    dry_run: bool = True,
    actor: str | None = None,
) -> ImportReport:
    """Validate everything first, then apply all sections in the caller's one transaction (or nothing, if dry)."""
    if isinstance(answer, dict) and _object_depth(answer) > MAX_NESTING:
        raise Invalid(
            f'The answer nests more than {MAX_NESTING} levels deep; a bootstrap answer never needs that many.',
            code='bootstrap_too_deep',
        )
    payload = parse_payload(answer if isinstance(answer, dict) else extract_json(answer))
    resolve = ImageResolver(session, project.id)
    top_mode = mode if isinstance(mode, str) else (payload.mode or 'merge')
    report = ImportReport(mode=top_mode, dry_run=dry_run)
    steps: list[Callable[[], object]] = []
    sections = {**SECTIONS, 'continuity': continuity.SECTION}
    resolve.errors += continuity.missing_references(session, project.id, payload)
    for name in payload.provided():
        section_report, section_steps = plan_section(
            session, project.id, sections[name], getattr(payload, name), _mode_for(name, mode, payload), resolve
        )
        report.sections.append(section_report)
        steps += section_steps
    if resolve.errors:
        raise Invalid('; '.join(resolve.errors), code='bootstrap_invalid', details={'errors': resolve.errors})
    report.sections += _read_only(session, project.id, payload)
    patch = {}
    if payload.project is not None:
        given = payload.project.model_dump(exclude_unset=True, exclude_none=True)
        fresh = projects.get_project(session, project.slug)
        patch = {k: v for k, v in given.items() if v != getattr(fresh, k)}
        report.project_fields = tuple(patch)
    project_update = parse(ProjectUpdate, patch)
    if dry_run:
        return report
    for step in steps:
        step()
    if patch:
        projects.update_project(session, project.slug, project_update)
    session.flush()
    summary = {s.section: s.counts() for s in report.sections}
    audit.record(
        session,
        project_id=project.id,
        actor=actor,
        action='bootstrap.import',
        payload={'mode': report.mode, 'project_fields': list(patch), 'sections': summary},
    )
    log.info('Bootstrap import into %s (%s): %s', project.slug, report.mode, summary)
    return report
