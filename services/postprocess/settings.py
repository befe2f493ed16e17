"""A project's post-process defaults and a run's request: which steps, colour profiles, and what gets cut out."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields, replace

from sqlmodel import Session

from models.project import ProjectRead, ProjectUpdate
from services.errors import Conflict, Invalid, KromaError
from services.postprocess.chain import parse_steps
from services.postprocess.colour import ColourProfile, builtin_profiles, profile_from_dict
from services.projects import projects

log = logging.getLogger(__name__)

BG_BACKENDS = ('auto', 'offline', 'rembg', 'remote')
CUTOUT_SCOPES = ('sheets', 'all')  # sheets: only character sheets lose their background; all: every chosen image


@dataclass(frozen=True)
class PostprocessSettings:
    """A project's chain defaults (settings['postprocess']); a run overrides any of them."""

    steps: tuple[str, ...] = ('bg', 'upscale', 'color')
    profile: str = 'neutral'
    scale: int = 2
    feather: int = 3
    bg_backend: str = 'auto'  # auto: remote service when a key exists, else offline; or offline, rembg, remote
    upscale_method: str = 'auto'
    cutout: str = 'sheets'  # a scene panel keeps its background unless the artist asks for 'all'

    def __post_init__(self) -> None:
        raw = [self.steps] if isinstance(self.steps, str) else list(self.steps)
        steps = tuple(s.op for s in parse_steps(raw, profile=self.profile, scale=self.scale))
        object.__setattr__(self, 'steps', steps)
        if self.bg_backend not in BG_BACKENDS:
            raise Invalid(f'Background backend must be one of {", ".join(BG_BACKENDS)}.', code='invalid_backend')
        if self.cutout not in CUTOUT_SCOPES:
            raise Invalid('Cut-out scope must be "sheets" or "all".', code='invalid_cutout')
        if not isinstance(self.feather, int) or not 0 <= self.feather <= 64:
            raise Invalid('Feather must be a whole number of pixels from 0 to 64.', code='invalid_feather')

    @classmethod
    def from_dict(cls, d: dict | None) -> PostprocessSettings:
        """Unknown keys are ignored, so older or newer settings still load."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in (d or {}).items() if k in names})

    def override(self, **changes: object) -> PostprocessSettings:
        """This run's choices on top of the defaults; None means 'use the default'."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})  # type: ignore[arg-type]


@dataclass(frozen=True)
class PostprocessRequest:
    """Which approved assets (ids, or every approved asset of a stage) and any per-run overrides."""

    asset_ids: Sequence[str] | None = None
    stage: str | None = None
    steps: str | Sequence[str] | None = None
    profile: str | None = None
    scale: int | None = None
    feather: int | None = None
    bg_backend: str | None = None
    upscale_method: str | None = None
    cutout: str | None = None  # None: 'all' when the steps asked for bg by name, else the project's default


def settings_for(project: ProjectRead) -> PostprocessSettings:
    return PostprocessSettings.from_dict(project.settings.get('postprocess'))


def colour_profiles(project: ProjectRead) -> dict[str, ColourProfile]:
    """Built-ins plus the project's own; a stored profile that no longer validates is skipped, not fatal."""
    out = builtin_profiles()
    for name, values in (project.settings.get('colour_profiles') or {}).items():
        try:
            out[name] = profile_from_dict({**values, 'name': name})
        except KromaError as e:
            log.warning('colour profile %s of %s skipped: %s', name, project.slug, e.user_message)
    return out


def save_colour_profile(session: Session, slug: str, data: dict) -> ColourProfile:
    """Validate and store (or replace) a user profile; built-in names stay reserved so lineage stays unambiguous."""
    profile = profile_from_dict(data)
    if profile.name in builtin_profiles():
        raise Conflict(f'"{profile.name}" is a built-in profile; choose another name.', code='profile_builtin')
    project = projects.get_project(session, slug)
    stored = dict(project.settings.get('colour_profiles') or {})
    stored[profile.name] = {k: v for k, v in profile.to_dict().items() if k != 'name'}
    projects.update_project(session, slug, ProjectUpdate(settings={'colour_profiles': stored}))
    return profile


def save_defaults(session: Session, slug: str, defaults: PostprocessSettings) -> PostprocessSettings:
    data = {**asdict(defaults), 'steps': list(defaults.steps)}
    projects.update_project(session, slug, ProjectUpdate(settings={'postprocess': data}))
    return defaults
