"""The bootstrap answer's shape (J03): pydantic models whose errors name the exact field path."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, model_validator

from models.base import NAME_MAX, Input, Name
from models.continuity import ContinuityEventCreate
from models.project import Description
from models.references import (
    CharacterCreate,
    Continuity,
    PromptTemplateCreate,
    SceneChapter,
    StyleGuideCreate,
    Text,
)
from services.errors import Invalid, rule_of

SCHEMA_VERSION = 'kroma.bootstrap.v2'
SECTIONS = ('style_guides', 'characters', 'scenes', 'reference_sets', 'prompt_templates', 'continuity')
READ_ONLY = ('provider_accounts', 'secrets')
SECRET_FIELDS = {'value', 'secret', 'secret_value', 'api_key', 'apikey', 'key', 'token', 'password', 'ciphertext'}
Mode = Literal['merge', 'replace']
ImageRef = Annotated[str, Field(max_length=NAME_MAX, description='sha256 or file name of an image in the project')]


class ProjectIn(Input):
    name: Name | None = None
    description: Description | None = None


class SceneIn(Input):
    name: Name
    description: Text = ''
    chapter: SceneChapter | None = None
    continuity: Continuity = Field(default_factory=Continuity)
    reference_image: ImageRef | None = None


class ReferenceItemIn(Input):
    label: str = Field('', max_length=NAME_MAX)
    image: ImageRef | None = None
    text: Text = ''

    @model_validator(mode='after')
    def _image_or_text(self) -> ReferenceItemIn:
        if not (self.image or self.text):
            raise ValueError('needs an image (sha256 or file name) or text')
        return self


class ReferenceSetIn(Input):
    name: Name
    description: Description = ''
    items: list[ReferenceItemIn] = Field(max_length=1000)


class NoSecrets(Input):
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


class BootstrapPayload(Input):
    """A section left out is untouched; a section given is merged or replaced as a whole.

    `continuity` holds the ledger's change events; one per scene, panel, character and field.

    Style guides, characters and prompt templates are the studio's own create models, so an answer meets the same
    limits as the forms; scenes and reference sets name their images by sha256 or file name instead of by id.
    """

    schema_version: str | None = None
    mode: Mode | None = None
    project: ProjectIn | None = None
    style_guides: list[StyleGuideCreate] | None = None
    characters: list[CharacterCreate] | None = None
    scenes: list[SceneIn] | None = None
    reference_sets: list[ReferenceSetIn] | None = None
    prompt_templates: list[PromptTemplateCreate] | None = None
    continuity: list[ContinuityEventCreate] | None = Field(None, max_length=10_000)
    provider_accounts: list[ProviderAccountRef] | None = None
    secrets: list[SecretRef] | None = None

    def provided(self) -> list[str]:
        return [s for s in SECTIONS if getattr(self, s) is not None]


def item_key(item: Any) -> str:
    """What makes an item unique in its section: a name, a template's key, or an event's place and field."""
    if isinstance(item, PromptTemplateCreate):
        return item.key
    if isinstance(item, ContinuityEventCreate):
        return f'{item.scene}/{item.panel or ""}/{item.character or ""}/{item.field}'
    return item.name


def field_path(loc: tuple[int | str, ...]) -> str:
    """('characters', 2, 'palette', 0) -> 'characters[2].palette[0]'."""
    out = ''
    for part in loc:
        out += f'[{part}]' if isinstance(part, int) else (f'.{part}' if out else str(part))
    return out or '(top level)'


def _message(err: Any) -> str:
    if err['type'] == 'extra_forbidden':
        return 'not a known field'
    if err['type'] == 'missing':
        return 'is required'
    return rule_of(err, BootstrapPayload)


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
            key = item_key(item).lower()
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
