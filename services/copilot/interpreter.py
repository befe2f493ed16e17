"""The offline copilot interpreter: a small grammar over the project's own words, so chat works with no network."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from services.layout.templates import TEMPLATES
from services.runs.plan import MAX_CANDIDATES

TYPES = ('pipeline_run', 'qa_check', 'postprocess', 'layout', 'export', 'backup', 'custom')
NUMBER_WORDS = {
    w: i for i, w in enumerate(['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten'])
}
TIME_WORDS = {'day': 'day', 'daytime': 'day', 'dusk': 'dusk', 'evening': 'dusk', 'sunset': 'dusk', 'night': 'night'}
WEATHER_WORDS = {'rain': 'rain', 'rainy': 'rain', 'raining': 'rain', 'fog': 'fog', 'foggy': 'fog', 'misty': 'fog'}
WEATHER_WORDS |= {'snow': 'snow', 'snowy': 'snow', 'snowing': 'snow', 'clear': 'clear'}
DEFAULT_PROFILES = ('neutral', 'cinematic_warm', 'cold_rain')


@dataclass(frozen=True)
class Named:
    id: str
    name: str
    stage: str = 'style'  # a scene's current stage: the latest with an approved or generated output, else style


@dataclass(frozen=True)
class Vocabulary:
    """What the project calls things: scenes in the project's order (numbered from 1), characters, colour profiles."""

    scenes: tuple[Named, ...] = ()
    characters: tuple[Named, ...] = ()
    profiles: tuple[str, ...] = DEFAULT_PROFILES


@dataclass(frozen=True)
class Proposal:
    """An instruction the artist is asked to confirm; nothing runs until they do."""

    type: str
    objective: str
    inputs: dict[str, Any] = field(default_factory=dict)
    constraints: dict[str, Any] = field(default_factory=dict)
    source: str = 'grammar'


@dataclass(frozen=True)
class NotUnderstood:
    """The copilot says so and offers phrasings; it never guesses an action."""

    message: str
    suggestions: tuple[str, ...] = ()


class InstructionFields(BaseModel):
    """The one schema both interpreters fill: the grammar directly, the LLM as its forced tool call."""

    model_config = ConfigDict(extra='ignore')
    type: Literal['pipeline_run', 'qa_check', 'postprocess', 'layout', 'export', 'backup', 'custom', 'not_understood']
    objective: str = Field('', description='One plain sentence; required for custom.')
    stage: Literal['style', 'time', 'weather', 'character'] | None = None
    scenes: list[int | str] = Field(default_factory=list, description='1-based scene numbers or names; empty = all.')
    candidates: int | None = Field(None, description='Candidates per scene for pipeline_run.')
    time: Literal['day', 'dusk', 'night'] | None = None
    weather: Literal['clear', 'rain', 'fog', 'snow'] | None = None
    characters: list[str] = Field(default_factory=list, description='Character names (character stage).')
    steps: list[Literal['bg', 'upscale', 'color']] = Field(default_factory=list, description='postprocess steps')
    profile: str | None = Field(None, description='Colour profile for the color step.')
    scale: int | None = Field(None, description='Upscale factor, 2 or 4.')
    format: Literal['cbz', 'zip', 'pdf'] | None = None
    chapter: int | None = Field(None, description='Chapter number for export and layout.')
    template: str | None = Field(None, description=f'Page template for layout: {", ".join(TEMPLATES)}.')
    run_id: str | None = None


def schema() -> dict[str, Any]:
    return InstructionFields.model_json_schema()


def fold(text: str) -> str:
    """Lower case without accents and with plain dashes, so 'Café' and 'cafe', '1–3' and '1-3' match."""
    text = unicodedata.normalize('NFKD', text.casefold())
    text = ''.join(c for c in text if not unicodedata.combining(c))
    return re.sub(r'[\u2010-\u2015]', '-', text)


def suggestions(vocab: Vocabulary) -> tuple[str, ...]:
    n = len(vocab.scenes)
    out = [f'style lock scenes 1 to {min(3, n)} with 2 candidates' if n else 'style lock all scenes with 2 candidates']
    out.append('night on scene 1' if n else 'night on all scenes')
    if vocab.characters:
        out.append(f'place {vocab.characters[0].name} in scene {min(2, n) or 1}')
    out += ['check the style candidates', 'upscale the approved style images', 'lay out chapter 1']
    out += ['export cbz chapter 1', 'back up']
    return tuple(out)


def interpret(text: str, vocab: Vocabulary) -> Proposal | NotUnderstood:
    """Read one chat message into a proposal, or say it was not understood."""
    fields = parse(text, vocab)
    return fields if isinstance(fields, NotUnderstood) else build(fields, vocab)


def _number(word: str) -> int | None:
    return int(word) if word.isdigit() else NUMBER_WORDS.get(word)


def _take(pattern: str, text: str) -> tuple[re.Match[str] | None, str]:
    """Find a phrase and blank it out, so its numbers and words are not read twice."""
    m = re.search(pattern, text)
    return (m, text[: m.start()] + ' ' + text[m.end() :]) if m else (None, text)


def _scene_refs(text: str, vocab: Vocabulary) -> tuple[list[int | str], str]:
    found: list[int | str] = []
    for scene in sorted(vocab.scenes, key=lambda s: -len(s.name)):
        m, text = _take(r'\b' + re.escape(fold(scene.name)) + r'\b', text)
        if m:
            found.append(scene.name)
    m, text = _take(r'\b(?:all|every|each)(?: the)? scenes?\b', text)
    m, text = _take(r'\bscenes? (\d+) ?(?:-|to|through|thru|until) ?(\d+)\b', text)
    if m:
        lo, hi = sorted((int(m.group(1)), int(m.group(2))))
        found += list(range(lo, hi + 1))
    m, text = _take(r'\bscenes? (\d+(?: ?(?:,|and|&) ?\d+)*)\b', text)
    if m:
        found += [int(n) for n in re.findall(r'\d+', m.group(1))]
    return found, text


def _postprocess_steps(text: str) -> list[str]:
    steps = []
    if re.search(r'\b(remove|removal|strip|cut ?out)\b.*\b(background|bg)\b|\b(background|bg) removal\b', text):
        steps.append('bg')
    if re.search(r'\bupscale\b|\bup-scale\b|\benlarge\b', text):
        steps.append('upscale')
    if re.search(r'\b(recolou?r|colou?r ?grade|colou?r profile)\b', text):
        steps.append('color')
    return steps


def _stage_word(text: str) -> str | None:
    m = re.search(r'\b(style|time|weather|character)s?\b', text)
    return m.group(1) if m else None


def parse(text: str, vocab: Vocabulary) -> InstructionFields | NotUnderstood:
    """Words → fields; the order of the checks is what keeps 'check the night run' from starting a run."""
    raw = ' '.join(text.split())
    t = ' ' + re.sub(r'[^\w\s,&-]', ' ', fold(raw)) + ' '
    t = re.sub(r'\s+', ' ', t)
    if not raw:
        return NotUnderstood('The message is empty.', suggestions(vocab))
    m = re.match(r'^\s*(?:ask the agent to|agent ?:?)\s+(.+)$', fold(raw))
    if m:
        return InstructionFields(type='custom', objective=raw[len(raw) - len(m.group(1)) :].strip())
    cand, t = _take(
        r'\b(\d+|'
        + '|'.join(NUMBER_WORDS)
        + r') ?(?:(?:more|extra|new|additional|other) )?(?:candidates?|variants?|versions?|options?|takes?)\b',
        t,
    )
    scenes, t = _scene_refs(t, vocab)
    chars = [c.name for c in vocab.characters if re.search(r'\b' + re.escape(fold(c.name)) + r'\b', t)]
    words = set(re.findall(r'[a-z]+', t))
    common: dict[str, Any] = {'scenes': scenes}
    if re.search(r'\bback ?-?up\b', t):
        return InstructionFields(type='backup')
    if 'export' in words:
        fmt = next((f for f in ('cbz', 'zip', 'pdf') if f in words), None)
        if fmt is None:
            return NotUnderstood('Which format: cbz, zip or pdf?', ('export cbz chapter 1', 'export pdf', 'export zip'))
        chapter, _ = _take(r'\bchapter (\d+)\b', t)
        return InstructionFields(type='export', format=fmt, chapter=int(chapter.group(1)) if chapter else None)
    if re.search(r'\b(?:lay ?-?out|auto ?-?layout|paginate|make (?:the )?pages)\b', t):
        chapter, _ = _take(r'\bchapter (\d+)\b', t)
        named = (n for n in TEMPLATES if re.search(rf'\b{n}(?: panels?)? template\b|\btemplate {n}\b', t))
        chapter_no = int(chapter.group(1)) if chapter else None
        return InstructionFields(type='layout', chapter=chapter_no, template=next(named, None), stage=_stage_word(t))
    steps = _postprocess_steps(t)
    if steps:
        profile = next(
            (p for p in vocab.profiles if re.search(r'\b' + re.escape(fold(p)).replace('_', '[ _]'), t)), None
        )
        if 'color' in steps and profile is None:
            return NotUnderstood(
                f'Which colour profile? This project has {", ".join(vocab.profiles)}.',
                tuple(f'recolour the approved style images with {p}' for p in vocab.profiles[:3]),
            )
        scale = re.search(r'\b([24]) ?x\b|\bx ?([24])\b', t)
        return InstructionFields(
            type='postprocess',
            steps=steps,
            profile=profile,
            scale=int(scale.group(1) or scale.group(2)) if scale else None,
            stage=_stage_word(t),
            **common,
        )
    if words & {'check', 'qa', 'verify', 'inspect', 'measure'}:
        run = re.search(r'\brun ([0-9a-f]{8,32})\b', t)
        return InstructionFields(type='qa_check', stage=_stage_word(t), run_id=run.group(1) if run else None, **common)
    time = next((TIME_WORDS[w] for w in re.findall(r'[a-z]+', t) if w in TIME_WORDS), None)
    weather = next((WEATHER_WORDS[w] for w in re.findall(r'[a-z]+', t) if w in WEATHER_WORDS), None)
    count = _number(cand.group(1)) if cand else None
    run_fields: dict[str, Any] = {'type': 'pipeline_run', 'candidates': count, **common}
    if words & {'character', 'characters', 'place', 'put'} or (chars and words & {'add', 'insert'}):
        return InstructionFields(stage='character', characters=chars, time=time, weather=weather, **run_fields)
    if weather:
        return InstructionFields(stage='weather', weather=weather, time=time, **run_fields)
    if time:
        return InstructionFields(stage='time', time=time, **run_fields)
    if 'style' in words:
        return InstructionFields(stage='style', **run_fields)
    if cand is not None or words & {'more', 'another', 'again'}:  # "3 more candidates for scene 1": its current stage
        return InstructionFields(**run_fields)
    return NotUnderstood('I could not match that to anything I can do.', suggestions(vocab))


def _resolve_scenes(refs: list[int | str], vocab: Vocabulary) -> list[Named] | str:
    by_name = {fold(s.name): s for s in vocab.scenes}
    out: list[Named] = []
    for ref in refs:
        key = fold(str(ref)).strip()
        if key.isdigit():
            n = int(key)
            if not 1 <= n <= len(vocab.scenes):
                return f'This project has {len(vocab.scenes)} scene(s); there is no scene {n}.'
            scene = vocab.scenes[n - 1]
        elif key in by_name:
            scene = by_name[key]
        else:
            return f'There is no scene called "{ref}" in this project.'
        if scene not in out:
            out.append(scene)
    return out


def _span(numbers: list[int]) -> str:
    if len(numbers) > 2 and numbers == list(range(numbers[0], numbers[-1] + 1)):
        return f'scenes {numbers[0]}–{numbers[-1]}'
    return ('scene ' if len(numbers) == 1 else 'scenes ') + ', '.join(map(str, numbers))


def build(
    fields: InstructionFields | dict[str, Any], vocab: Vocabulary, *, source: str = 'grammar'
) -> Proposal | NotUnderstood:
    """Validate fields against the schema and the project's vocabulary; anything unknown is not understood."""
    try:
        f = fields if isinstance(fields, InstructionFields) else InstructionFields.model_validate(fields)
    except ValidationError as e:
        return NotUnderstood(f'That request did not fit any instruction ({e.errors()[0]["msg"]}).', suggestions(vocab))
    if f.type == 'not_understood':
        return NotUnderstood(f.objective or 'I did not understand that.', suggestions(vocab))
    scenes = _resolve_scenes(f.scenes, vocab)
    if isinstance(scenes, str):
        return NotUnderstood(scenes, suggestions(vocab))
    names = [s.name for s in scenes]
    numbers = [vocab.scenes.index(s) + 1 for s in scenes]
    where = f'{_span(numbers)} ({", ".join(names)})' if scenes else f'all {len(vocab.scenes)} scenes'
    scope = {'scene_ids': [s.id for s in scenes] or None, 'scenes': names or 'all'}
    if f.type == 'pipeline_run':
        current = ''
        if f.stage is None:
            stages = {s.stage for s in (scenes or vocab.scenes)} or {'style'}
            if len(stages) != 1:
                return NotUnderstood(
                    f'Those scenes are at different stages ({", ".join(sorted(stages))}); say which stage.',
                    suggestions(vocab),
                )
            f = f.model_copy(update={'stage': stages.pop()})
            current = ' (its current stage)' if len(scenes) == 1 else ' (their current stage)'
        n = 3 if f.candidates is None else f.candidates
        if not 1 <= n <= MAX_CANDIDATES:
            return NotUnderstood(f'Candidates per scene must be 1–{MAX_CANDIDATES}.', suggestions(vocab))
        known = {fold(c.name): c for c in vocab.characters}
        missing = [c for c in f.characters if fold(c) not in known]
        if missing:
            return NotUnderstood(f'There is no character called "{missing[0]}" in this project.', suggestions(vocab))
        chars = [known[fold(c)] for c in f.characters]
        own = "each scene's own"
        what = {'style': 'Style lock', 'time': f'Time of day → {f.time or own}'}
        what['weather'] = f'Weather → {f.weather or own}'
        what['character'] = 'Place ' + (', '.join(c.name for c in chars) or 'the characters present')
        time = f.time if f.stage != 'style' else None
        weather = f.weather if f.stage in ('weather', 'character') else None
        inputs = {**scope, 'stage': f.stage, 'time': time, 'weather': weather}
        inputs |= {'character_ids': [c.id for c in chars] or None, 'characters': [c.name for c in chars]}
        on = 'in' if f.stage == 'character' else 'on'
        objective = f'{what[f.stage]}{current} {on} {where} with {n} candidate{"s" if n > 1 else ""} each'
        return Proposal('pipeline_run', objective, inputs, {'candidates': n, 'mode': 'run'}, source)
    if f.type == 'qa_check':
        objective = f'Check QA of the latest {f.stage or ""} run on {where}'.replace('  ', ' ')
        return Proposal('qa_check', objective, {**scope, 'stage': f.stage, 'run_id': f.run_id}, {}, source)
    if f.type == 'postprocess':
        if not f.steps:
            return NotUnderstood('Which post-process step: remove background, upscale or recolour?', suggestions(vocab))
        if 'color' in f.steps and f.profile not in vocab.profiles:
            return NotUnderstood(f'Unknown colour profile; choose {", ".join(vocab.profiles)}.', suggestions(vocab))
        if f.scale not in (None, 2, 4):
            return NotUnderstood('Upscale by 2x or 4x.', suggestions(vocab))
        label = {'bg': 'remove background', 'upscale': f'upscale {f.scale or 2}x', 'color': f'recolour ({f.profile})'}
        target = f'approved {f.stage} images' if f.stage else 'approved images'
        objective = f'{", then ".join(label[s] for s in f.steps).capitalize()} on the {target}'
        inputs = {'stage': f.stage, 'steps': list(f.steps), 'profile': f.profile, 'scale': f.scale}
        return Proposal('postprocess', objective, inputs, {}, source)
    if f.type == 'export':
        if f.format is None:
            return NotUnderstood('Which format: cbz, zip or pdf?', suggestions(vocab))
        part = f' chapter {f.chapter}' if f.chapter else ''
        inputs = {'format': f.format, 'chapter': f.chapter}
        return Proposal('export', f'Export{part} as {f.format.upper()}', inputs, {}, source)
    if f.type == 'layout':
        if f.template is not None and f.template not in TEMPLATES:
            return NotUnderstood(f'Unknown page template; choose {", ".join(TEMPLATES)}.', suggestions(vocab))
        chapter = 1 if f.chapter is None else f.chapter
        if not 1 <= chapter <= 9999:
            return NotUnderstood('Chapters are numbered from 1.', suggestions(vocab))
        how = f' with the {f.template} template' if f.template else ''
        images = f'approved {f.stage} images' if f.stage else 'approved panels'
        objective = f'Lay out the {images} of chapter {chapter} on new pages{how}'
        return Proposal('layout', objective, {'chapter': chapter, 'template': f.template, 'stage': f.stage}, {}, source)
    if f.type == 'backup':
        return Proposal('backup', 'Back up the project now', {}, {}, source)
    if not f.objective.strip():
        return NotUnderstood('Say what the agent should do.', suggestions(vocab))
    return Proposal('custom', f.objective.strip()[:500], {'text': f.objective.strip()}, {}, source)
