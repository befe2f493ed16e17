"""Run planning (J04): resolve each scene's inputs for the stage, compose prompts, estimate cost, apply the spend guard."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session, col, select

from models.assets import Asset
from models.base import STAGE_ORDER, AssetKind, ReviewState, Stage
from models.project import ProjectRead
from models.references import Scene, SceneRead, StyleGuide, StyleGuideRead
from services.errors import Invalid, NotFound, PolicyRefused
from services.providers.input_caps import InputCap
from services.references import characters as characters_svc
from services.references import ledger_state
from services.references import prompt_templates as prompts
from services.references.reference_picker import Pick
from services.references.scenes import TIMES, WEATHERS
from services.runs import continuity_plan

MAX_CANDIDATES = 8


@dataclass(frozen=True)
class RunRequest:
    """What the composer page, the CLI, the API and the copilot ask for; validated by plan_run."""

    stage: Stage
    scene_ids: Sequence[str] | None = None  # None = every scene
    candidates: int = 3
    account_id: str | None = None
    style_asset_ids: Sequence[str] | None = None  # None = every style reference of the project
    character_ids: Sequence[str] | None = None  # None = the scene's characters present (character stage)
    time: str | None = None  # None = each scene's own time (the time stage); a value overrides every scene
    weather: str | None = None  # None = each scene's own weather (the weather stage); a value overrides every scene
    scene_targets: Mapping[str, Mapping[str, str]] | None = None  # {scene_id: {'time': 'dusk'}}: one scene's override
    mode: str = 'dry'
    confirm_spend: bool = False
    size: tuple[int, int] | None = None  # None = follow each scene's orientation
    seed: int = 0


@dataclass(frozen=True)
class PlannedInput:
    role: str
    asset_id: str
    sha256: str
    path: str
    name: str = ''


@dataclass
class PlannedJob:
    scene_id: str
    scene_name: str
    prompt: str = ''
    inputs: list[PlannedInput] = field(default_factory=list)
    cost_usd: float = 0.0
    blocked: str = ''
    character_names: list[str] = field(default_factory=list)
    size: tuple[int, int] = (1024, 1536)
    time: str | None = None
    weather: str | None = None
    target: str = ''  # what this job aims for and why, e.g. 'time day (the scene's own)'
    references: list[Pick] = field(default_factory=list)  # every character reference with why it was (not) chosen
    extras: dict[str, Any] = field(default_factory=dict)  # ledger state, bible versions, picks: into the job's params


@dataclass
class RunPlan:
    request: RunRequest
    jobs: list[PlannedJob]
    total_cost_usd: float
    remaining_budget_usd: float  # the budget less what was spent and what queued or running runs reserve
    provider_offline: bool
    palette: list[str] = field(default_factory=list)  # the style guide's, for renderers that take one
    reserved_usd: float = 0.0
    reserving_runs: int = 0

    @property
    def runnable(self) -> list[PlannedJob]:
        return [j for j in self.jobs if not j.blocked]


def call_sizes(candidates: int, per_call: int) -> list[int]:
    """How a job's candidates share calls: ceil(N / per_call) calls, as even as possible (the executor and the
    estimate use the same split, so the estimate prices the calls that are really made)."""
    if candidates <= 0:
        return []
    calls = -(-candidates // max(1, per_call))
    base, extra = divmod(candidates, calls)
    return [base + 1] * extra + [base] * (calls - extra)


def approved_output(session: Session, project_id: str, scene_id: str, stage: Stage) -> Asset | None:
    """The scene's newest approved output of the nearest earlier stage: what the next stage builds on."""
    earlier = STAGE_ORDER[: STAGE_ORDER.index(stage)]
    for prev in reversed(earlier):
        row = session.exec(
            select(Asset)
            .where(
                Asset.project_id == project_id,
                Asset.scene_id == scene_id,
                Asset.stage == prev.value,
                Asset.status == ReviewState.approved,
            )
            .order_by(col(Asset.created_at).desc())
        ).first()
        if row is not None:
            return row
    return None


def size_for(width: int, height: int) -> tuple[int, int]:
    """Keep the scene's orientation: landscape, portrait or square at the sizes every provider accepts."""
    ratio = width / max(1, height)
    if ratio > 1.2:
        return (1536, 1024)
    if ratio < 1 / 1.2:
        return (1024, 1536)
    return (1024, 1024)


def _inp(role: str, a: Asset, name: str = '') -> PlannedInput:
    return PlannedInput(role=role, asset_id=a.id, sha256=a.sha256, path=a.path, name=name or a.original_name)


def validate_request(req: RunRequest) -> None:
    if not 1 <= req.candidates <= MAX_CANDIDATES:
        raise Invalid(f'Candidates per scene must be 1–{MAX_CANDIDATES}.', code='invalid_candidates')
    if req.mode not in ('dry', 'run'):
        raise Invalid('Mode must be "dry" or "run".', code='invalid_mode')
    if req.time and req.time not in TIMES:
        raise Invalid(f'Time must be one of {", ".join(TIMES)}.', code='invalid_time')
    if req.weather and req.weather not in WEATHERS:
        raise Invalid(f'Weather must be one of {", ".join(WEATHERS)}.', code='invalid_weather')
    for scene_id, target in (req.scene_targets or {}).items():
        if not isinstance(target, Mapping) or set(target) - {'time', 'weather'}:
            raise Invalid(f'Scene {scene_id}: a target holds only time and weather.', code='invalid_target')
        if target.get('time') and target['time'] not in TIMES:
            raise Invalid(f'Time must be one of {", ".join(TIMES)}.', code='invalid_time')
        if target.get('weather') and target['weather'] not in WEATHERS:
            raise Invalid(f'Weather must be one of {", ".join(WEATHERS)}.', code='invalid_weather')


def scene_target(
    scene: Scene, req: RunRequest, state: ledger_state.DerivedState | None = None
) -> tuple[str | None, str | None, str]:
    """The time and weather a scene's job aims for: this scene's override, else the run's, else the scene's own
    state (its continuity as the ledger carries it forward), so a day scene never turns night because a selector
    had a default. Returns (time, weather, why)."""
    own = (req.scene_targets or {}).get(scene.id) or {}
    cont = {k: ledger_state.stage_target(state, k) or (scene.continuity or {}).get(k) for k in ('time', 'weather')}
    values: dict[str, str | None] = {'time': req.time, 'weather': req.weather}
    why = ''
    for key in ('time', 'weather'):
        if req.stage.value != key:
            continue
        if own.get(key):
            values[key], source = own[key], 'set for this scene'
        elif values[key]:
            source = 'set for every scene'
        else:
            values[key], source = cont.get(key), "the scene's own"
        why = f'{key} {values[key]} ({source})' if values[key] else ''
    return values['time'], values['weather'], why


def _scenes(session: Session, project_id: str, ids: Sequence[str] | None) -> list[Scene]:
    rows = session.exec(
        select(Scene).where(Scene.project_id == project_id).order_by(col(Scene.sort_order), col(Scene.name))
    ).all()
    if ids is None:
        return list(rows)
    by_id = {r.id: r for r in rows}
    missing = [i for i in ids if i not in by_id]
    if missing:
        raise NotFound(f'Scene {missing[0]} is not in this project.')
    return [by_id[i] for i in ids]


def _style_assets(session: Session, project_id: str, ids: Sequence[str] | None) -> list[Asset]:
    query = select(Asset).where(Asset.project_id == project_id, Asset.kind == AssetKind.style)
    if ids is not None:
        query = query.where(col(Asset.id).in_(list(ids)))
    rows = list(session.exec(query.order_by(col(Asset.created_at))).all())
    if ids is not None and len(rows) != len(set(ids)):
        raise NotFound('A chosen style reference is not in this project.')
    return rows


def plan_run(
    session: Session,
    project: ProjectRead,
    req: RunRequest,
    *,
    estimate: Any,
    offline: bool,
    spent_usd: float,
    reserved_usd: float = 0.0,
    reserving_runs: int = 0,
    input_cap: InputCap | None = None,
) -> RunPlan:
    """Build the whole plan without calling any provider; estimate(job, n) gives the cost of a job's n candidates."""
    validate_request(req)
    cap = input_cap or InputCap(None, 'no input cap given')
    states = ledger_state.all_states(session, project.id)
    guide_row = session.exec(
        select(StyleGuide).where(StyleGuide.project_id == project.id).order_by(col(StyleGuide.created_at))
    ).first()
    guide = StyleGuideRead.model_validate(guide_row.model_dump()) if guide_row else None
    template = prompts.current_template(session, project.id, req.stage)
    styles = _style_assets(session, project.id, req.style_asset_ids)
    jobs: list[PlannedJob] = []
    for scene in _scenes(session, project.id, req.scene_ids):
        job = PlannedJob(scene_id=scene.id, scene_name=scene.name)
        state = states.get(scene.id)
        job.time, job.weather, job.target = scene_target(scene, req, state)
        if req.stage == Stage.style:
            base = session.get(Asset, scene.reference_asset_id) if scene.reference_asset_id else None
            if base is None:
                job.blocked = 'The scene has no reference image.'
        else:
            base = approved_output(session, project.id, scene.id, req.stage)
            if base is None:
                job.blocked = f'No approved output of an earlier stage; approve a {STAGE_ORDER[STAGE_ORDER.index(req.stage) - 1].value} candidate first.'
        if req.stage in (Stage.time, Stage.weather) and not job.target and not job.blocked:
            word = (
                'time of day (day, dusk or night)' if req.stage == Stage.time else 'weather (clear, rain, fog or snow)'
            )
            job.blocked = f'The scene has no {req.stage.value} in its continuity; choose a {word} for it.'
        described = prompts.prompt_characters(session, project.id, scene.continuity, req.character_ids)
        chars = described if req.stage == Stage.character else []  # only this stage sends their reference images
        if req.stage == Stage.character and not chars and not job.blocked:
            job.blocked = 'No characters chosen or present in this scene.'
        if base is not None:
            job.inputs.append(_inp('scene', base))
            job.size = req.size or size_for(base.width, base.height)
        elif req.size:
            job.size = req.size
        job.inputs += [_inp('style', a) for a in styles]
        # the continuity ledger: the outfit picks references, the state fills the prompt
        budget = cap.character_budget(len(job.inputs))
        job.references, chosen = continuity_plan.pick_character_references(session, chars, state, budget)
        job.inputs += [_inp('character', a, name) for a, name in chosen]
        job.character_names = [c.name for c in chars]
        char_reads = [characters_svc.get_character(session, project.id, c.id) for c in described]
        params = {'time': job.time, 'weather': job.weather}
        job.prompt = prompts.compose(
            template,
            stage=req.stage,
            scene=SceneRead.model_validate(scene, from_attributes=True),
            guide=guide,
            characters=char_reads,
            params=params,
            values=prompts.ledger_values(state, params, char_reads),
        )
        job.extras = continuity_plan.job_extras(session, state, chars, job.references, cap.why)
        if not job.blocked:
            job.cost_usd = round(estimate(job, req.candidates), 6)
        jobs.append(job)
    total = round(sum(j.cost_usd for j in jobs), 6)
    return RunPlan(
        request=req,
        jobs=jobs,
        total_cost_usd=total,
        remaining_budget_usd=round(project.budget_usd - spent_usd - reserved_usd, 6),
        provider_offline=offline,
        palette=list(guide.palette) if guide and guide.palette else [],
        reserved_usd=round(reserved_usd, 6),
        reserving_runs=reserving_runs,
    )


def check_spend(plan: RunPlan, *, batch_limit: int) -> None:
    """A run is refused before any call when it is unconfirmed, over the batch limit or over the budget."""
    if plan.request.mode != 'run':
        return
    if not plan.runnable:
        raise PolicyRefused('Nothing to run: every scene is blocked.', code='nothing_to_run')
    if len(plan.runnable) > batch_limit:
        raise PolicyRefused(
            f'{len(plan.runnable)} jobs is over the batch limit of {batch_limit}; choose fewer scenes or raise the limit in Settings.',
            code='batch_limit',
        )
    if plan.provider_offline or plan.total_cost_usd <= 0:
        return  # nothing to pay: no confirmation, and no budget to fit
    if not plan.request.confirm_spend:
        raise PolicyRefused(
            f'This run would spend about ${plan.total_cost_usd:.2f}; confirm the spend to start it.',
            code='spend_confirmation_required',
        )
    if plan.total_cost_usd > plan.remaining_budget_usd + 1e-6:
        held = (
            f' (${plan.reserved_usd:.2f} of the budget is reserved by {plan.reserving_runs} queued or running run(s))'
            if plan.reserving_runs
            else ''
        )
        raise PolicyRefused(
            f'This run would cost about ${plan.total_cost_usd:.2f}, over the ${max(0.0, plan.remaining_budget_usd):.2f} '
            f'left in the project budget{held}.',
            code='budget_exceeded',
        )
