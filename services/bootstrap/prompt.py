"""The bootstrap prompt's text: the task, the answer's shape, the rules and the project as it is now."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import or_
from sqlmodel import Session, col, select

from models.assets import Asset
from models.base import AssetKind, Stage
from models.continuity import CHARACTER_FIELDS, SCENE_FIELDS
from models.project import ProjectRead
from models.provider import ProviderAccount, Secret
from models.references import FRAMINGS
from services.bootstrap.schema import SCHEMA_VERSION
from services.projects import projects
from services.references import characters, ledger, reference_sets, scenes, style_guides
from services.references import prompt_templates as prompts
from services.references.prompt_templates import PLACEHOLDERS
from services.references.scenes import TIMES, WEATHERS

PROMPT_IMAGE_KINDS = (AssetKind.scene, AssetKind.style, AssetKind.character, AssetKind.reference)
EXAMPLE: dict[str, Any] = {
    'schema_version': SCHEMA_VERSION,
    'project': {'name': 'The Long Night', 'description': 'One line about the story.'},
    'style_guides': [
        {
            'name': 'Sepia ink',
            'rules': 'Bold black ink outlines, flat tones.',
            'do_text': 'Keep line weight even.',
            'dont_text': 'No gradients.',
            'palette': ['#18141c', '#b0845c'],
        }
    ],
    'characters': [
        {
            'name': 'Grace',
            'bible': 'Who she is and how she looks, in a few sentences.',
            'palette': ['#1c2233'],
            'outfits': ['uniform', 'raincoat'],
            'outfit_palettes': {'uniform': ['#1c2233', '#c9a94a'], 'raincoat': ['#f2c200']},
        }
    ],
    'scenes': [
        {
            'name': 'Harbour',
            'description': 'What the place looks like.',
            'chapter': 1,
            'continuity': {
                'time': 'night',
                'weather': 'rain',
                'props': ['lantern'],
                'characters': ['Grace'],
                'framing': 'wide',
            },
            'reference_image': 'sha256 or file name of an image listed below, or null',
        }
    ],
    'reference_sets': [
        {
            'name': 'Harbour mood',
            'description': 'Why these belong together.',
            'items': [
                {'label': 'wide shot', 'image': 'sha256 or file name of an image listed below'},
                {'label': 'note', 'text': 'Fog hides the far shore.'},
            ],
        }
    ],
    'prompt_templates': [
        {'name': 'style default', 'stage': 'style', 'text': 'Redraw {scene} in this style: {style_guide}'}
    ],
    'continuity': [
        {'scene': 'Harbour', 'field': 'weather', 'value': 'fog', 'note': 'the fog rolls in'},
        {'scene': 'Harbour', 'panel': 3, 'character': 'Grace', 'field': 'outfit', 'value': 'raincoat'},
        {'scene': 'Harbour', 'character': 'Grace', 'field': 'marks', 'op': 'add', 'value': ['scar on the left cheek']},
    ],
}


def _rules() -> list[str]:
    placeholders = ', '.join('{' + p + '}' for p in PLACEHOLDERS)
    return [
        'Answer with exactly one JSON object in a ```json code block. A sentence before or after it is fine.',
        'Leave out every section you do not want to change; a section you leave out stays exactly as it is.',
        'Names are unique inside a section ignoring case ("Hero" and "hero" are the same). A name that exists is '
        'updated, a new name is created.',
        'In merge mode only the fields you write are changed; in replace mode a section you give becomes exactly '
        'what you wrote (entities you leave out of it are deleted).',
        'Colours are hex strings like "#1a2b3c".',
        f'scenes[].continuity.time is one of {", ".join(TIMES)}; weather is one of {", ".join(WEATHERS)}; props and '
        f'characters are lists of names; framing is one of {", ".join(FRAMINGS)}.',
        'continuity is the ledger of changes in story order: each event names a scene by name (and optionally a '
        'panel number), a field, and a value; a change holds from there on until another event changes it. Fields '
        f'{", ".join(SCENE_FIELDS)} belong to the scene; {", ".join(CHARACTER_FIELDS)} (marks = injuries and marks, '
        'held = held objects) belong to the character the event names. op is set (default), add or remove (props, '
        'marks, held only) or clear. One event per scene, panel, character and field.',
        'characters[].outfit_palettes gives each outfit its colours, so QA can check what a character wears.',
        f'prompt_templates[].stage is one of {", ".join(s.value for s in Stage)}; its text may use only these '
        f'placeholders: {placeholders}.',
        'Images are referenced by the sha256 or the file name of an image under "Images you can reference"; you '
        'cannot add new images.',
        'Every reference set needs an "items" array (it may be []); the items replace the set\'s items, in order; '
        'each item has an "image", a "text", or both.',
        'provider_accounts and secrets are shown by name only so you know what exists. Never write a key, password '
        'or token: secret values are never imported, and these two sections are never changed by an import.',
    ]


def compose_prompt(settings: dict[str, Any], images: list[dict[str, str]]) -> str:
    """Plain text, so it pastes into any chatbot; the JSON parts are fenced so they survive copy and paste."""
    parts = [
        'You are helping a comic artist set up a project in Kroma Studio: its style guides, characters, scenes, '
        'reference sets and prompt templates. Read the current settings below, then answer with the changes.',
        'Shape of the answer (all sections optional; fields not shown as required may be left out):',
        '```json\n' + json.dumps(EXAMPLE, indent=2, ensure_ascii=False) + '\n```',
        'Rules:\n' + '\n'.join(f'- {r}' for r in _rules()),
        'Current project settings:',
        '```json\n' + json.dumps(settings, indent=2, ensure_ascii=False) + '\n```',
        'Images you can reference (file, sha256, kind):',
        '\n'.join(f'- {i["file"] or "(unnamed)"}  {i["sha256"]}  {i["kind"]}' for i in images) or '- (none yet)',
    ]
    return '\n\n'.join(parts) + '\n'


def build_prompt(session: Session, project: ProjectRead) -> str:
    """The whole prompt to paste into a chatbot: task, answer shape, rules, current settings, usable images."""
    return compose_prompt(current_settings(session, project), _prompt_images(session, project.id))


def _prompt_images(session: Session, project_id: str, limit: int = 200) -> list[dict[str, str]]:
    rows = session.exec(
        select(Asset.original_name, Asset.sha256, Asset.kind)
        .where(Asset.project_id == project_id, col(Asset.kind).in_(PROMPT_IMAGE_KINDS))
        .order_by(col(Asset.created_at).desc())
        .limit(limit)
    ).all()
    return [{'file': n, 'sha256': s, 'kind': str(k)} for n, s, k in rows]


def current_settings(session: Session, project: ProjectRead) -> dict[str, Any]:
    """The project as an answer would describe it: importing this back changes nothing."""
    project = projects.get_project(session, project.slug)
    scene_list = scenes.list_scenes(session, project.id)
    ref_ids = [sc.reference_asset_id for sc in scene_list if sc.reference_asset_id]
    shas = dict(session.exec(select(Asset.id, Asset.sha256).where(col(Asset.id).in_(ref_ids))).all())
    guide_fields = {'name', 'rules', 'do_text', 'dont_text', 'palette'}
    accounts = session.exec(
        select(ProviderAccount).where(
            or_(col(ProviderAccount.project_id).is_(None), ProviderAccount.project_id == project.id)
        )
    ).all()
    secrets = session.exec(select(Secret).where(col(Secret.scope).in_([project.id, 'global']))).all()
    return {
        'schema_version': SCHEMA_VERSION,
        'project': {'name': project.name, 'description': project.description},
        'style_guides': [
            g.model_dump(include=guide_fields) for g in style_guides.list_style_guides(session, project.id)
        ],
        'characters': [
            c.model_dump(include={'name', 'bible', 'palette', 'outfits', 'outfit_palettes'})
            for c in characters.list_characters(session, project.id)
        ],
        'scenes': [
            {
                'name': sc.name,
                'description': sc.description,
                'chapter': sc.chapter,
                'continuity': {
                    k: v for k, v in sc.continuity.items() if k in ('time', 'weather', 'props', 'characters', 'framing')
                },
                'reference_image': shas.get(sc.reference_asset_id or ''),
            }
            for sc in scene_list
        ],
        'reference_sets': [
            {
                'name': r.name,
                'description': r.description,
                'items': [{'label': i.label, 'image': i.sha256, 'text': i.content_text} for i in r.items],
            }
            for r in reference_sets.list_sets(session, project.id)
        ],
        'prompt_templates': [
            {'name': t.name, 'stage': t.stage.value, 'text': t.text}
            for t in prompts.list_templates(session, project.id)
        ],
        'continuity': [
            {
                k: v
                for k, v in {
                    'scene': e.scene,
                    'panel': e.panel,
                    'character': e.character,
                    'field': e.field,
                    'op': e.op,
                    'value': e.values,
                    'note': e.note,
                }.items()
                if v not in (None, '') and not (k == 'op' and v == 'set')
            }
            for e in ledger.list_events(session, project.id)
        ],
        'provider_accounts': [{'name': a.name, 'kind': a.kind.value, 'model': a.model} for a in accounts],
        'secrets': [{'provider': s.provider, 'name': s.name, 'has_value': bool(s.ciphertext)} for s in secrets],
    }
