"""The bootstrap answer's shape (J03): pydantic models whose errors name the exact field path."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from models.base import Stage
from services.errors import Invalid
from services.references.prompt_templates import check_template
from services.references.scenes import TIMES, WEATHERS

SCHEMA_VERSION = 'kroma.bootstrap.v2'
SECTIONS = ('style_guides', 'characters', 'scenes', 'reference_sets', 'prompt_templates')
READ_ONLY = ('provider_accounts', 'secrets')
SECRET_FIELDS = {'value', 'secret', 'secret_value', 'api_key', 'apikey', 'key', 'token', 'password', 'ciphertext'}
Mode = Literal['merge', 'replace']


def _hex(value: str) -> str:
    v = value.strip().lower()
    if not re.fullmatch(r'#[0-9a-f]{6}', v):
        raise ValueError('not a hex colour like #1a2b3c')
    return v


def _name(value: str) -> str:
    v = value.strip()
    if not v:
        raise ValueError('must not be empty')
    if len(v) > 200:
        raise ValueError('must be at most 200 characters')
    return v


def _template(value: str) -> str:
    try:
        return check_template(value)
    except Invalid as e:
        raise ValueError(e.user_message.rstrip('.')) from e


Name = Annotated[str, AfterValidator(_name)]
Hex = Annotated[str, AfterValidator(_hex)]
Text = Annotated[str, Field(max_length=20_000)]


class Strict(BaseModel):
    model_config = ConfigDict(extra='forbid', str_strip_whitespace=True)


class ProjectIn(Strict):
    name: Name | None = None
    description: Text | None = None


class StyleGuideIn(Strict):
    name: Name
    rules: Text = ''
    do_text: Text = ''
    dont_text: Text = ''
    palette: list[Hex] = []


class CharacterIn(Strict):
    name: Name
    bible: Text = ''
    palette: list[Hex] = []
    outfits: list[Name] = []


class ContinuityIn(Strict):
    time: Literal[TIMES] | None = None  # type: ignore[valid-type]
    weather: Literal[WEATHERS] | None = None  # type: ignore[valid-type]
    props: list[Name] = []
    characters: list[Name] = []


class SceneIn(Strict):
    name: Name
    description: Text = ''
    chapter: int | None = Field(default=None, ge=0, le=100_000)
    continuity: ContinuityIn = ContinuityIn()
    reference_image: str | None = Field(default=None, description='sha256 or file name of an image in the project')


class ReferenceItemIn(Strict):
    label: str = ''
    image: str | None = Field(default=None, description='sha256 or file name of an image in the project')
    text: Text = ''

    @model_validator(mode='after')
    def _image_or_text(self) -> ReferenceItemIn:
        if not (self.image or self.text):
            raise ValueError('needs an image (sha256 or file name) or text')
        return self


class ReferenceSetIn(Strict):
    name: Name
    description: Text = ''
    items: list[ReferenceItemIn]


class PromptTemplateIn(Strict):
    name: Name | None = None
    stage: Stage
    text: Annotated[str, AfterValidator(_template)]

    @property
    def key(self) -> str:
        return self.name or f'{self.stage.value} default'


class NoSecrets(Strict):
    @model_validator(mode='before')
    @classmethod
    def _refuse_values(cls, data: Any) -> Any:
        if isinstance(data, dict) and (found := sorted(SECRET_FIELDS & {str(k).lower() for k in data})):
            raise ValueError(f'"{found[0]}" looks like a secret value; secrets are never imported, give names only')
        return data


class ProviderAccountRef(NoSecrets):
    name: Name
    kind: str = ''
    model: str = ''


class SecretRef(NoSecrets):
    provider: Name
    name: Name
    has_value: bool | None = None


class BootstrapPayload(Strict):
    """A section left out is untouched; a section given is merged or replaced as a whole."""

    schema_version: str | None = None
    mode: Mode | None = None
    project: ProjectIn | None = None
    style_guides: list[StyleGuideIn] | None = None
    characters: list[CharacterIn] | None = None
    scenes: list[SceneIn] | None = None
    reference_sets: list[ReferenceSetIn] | None = None
    prompt_templates: list[PromptTemplateIn] | None = None
    provider_accounts: list[ProviderAccountRef] | None = None
    secrets: list[SecretRef] | None = None

    def provided(self) -> list[str]:
        return [s for s in SECTIONS if getattr(self, s) is not None]


def field_path(loc: tuple[int | str, ...]) -> str:
    """('characters', 2, 'palette', 0) -> 'characters[2].palette[0]'."""
    out = ''
    for part in loc:
        out += f'[{part}]' if isinstance(part, int) else (f'.{part}' if out else str(part))
    return out or '(top level)'


def _message(err: dict[str, Any]) -> str:
    if err['type'] == 'extra_forbidden':
        return 'not a known field'
    if err['type'] == 'missing':
        return 'is required'
    return str(err['msg']).removeprefix('Value error, ')


def parse_payload(data: Any) -> BootstrapPayload:
    """Validate every field at once; the error lists each problem with its path."""
    if not isinstance(data, dict):
        raise Invalid('The answer must be one JSON object, like {"characters": [...]}.', code='bootstrap_invalid')
    if 'settings' in data and isinstance(data['settings'], dict):  # the original {mode, settings} wrapper
        data = {**data['settings'], **({'mode': data['mode']} if 'mode' in data else {})}
    try:
        payload = BootstrapPayload.model_validate(data)
    except ValidationError as e:
        errors = [f'{field_path(err["loc"])}: {_message(err)}' for err in e.errors()]
        shown = '; '.join(errors[:8]) + (f'; and {len(errors) - 8} more' if len(errors) > 8 else '')
        raise Invalid(shown, code='bootstrap_invalid', details={'errors': errors}) from e
    duplicates = []
    for section in SECTIONS:
        seen: set[str] = set()
        for i, item in enumerate(getattr(payload, section) or []):
            key = (item.key if isinstance(item, PromptTemplateIn) else item.name).lower()
            if key in seen:
                duplicates.append(f'{section}[{i}].name: "{key}" appears twice (names ignore case)')
            seen.add(key)
    if duplicates:
        raise Invalid('; '.join(duplicates), code='bootstrap_invalid', details={'errors': duplicates})
    if not payload.provided() and payload.project is None:
        raise Invalid(
            f'The answer holds no section to import; give at least one of {", ".join(SECTIONS)} or project.',
            code='bootstrap_empty',
        )
    return payload
