"""Post-process (J07): approved images or a whole stage → bg → upscale → colour, live progress, before/after, lineage."""

from __future__ import annotations

import json

from nicegui import ui

from components.archive_views import archived_list
from components.compare_slider import CompareSlider
from components.errors import notify_errors
from components.gallery import Lightbox, gallery_grid, image_url
from components.progress import ThreadProgress
from models.assets import AssetRead
from models.base import AssetKind, ReviewState, Stage
from pages.common import project_frame
from services.deps import Deps
from services.errors import Invalid
from services.postprocess import archive
from services.postprocess import runs as postprocess_runs
from services.postprocess.runs import PostprocessRequest, PostprocessResult, PostprocessRunner
from services.projects import assets
from services.projects.assets import AssetFilter

PROFILE_EXAMPLE = '{"name": "my-look", "contrast": 1.08, "saturation": 0.9, "b_gain": 1.03}'


def lineage_text(links: dict[str, list[dict]]) -> dict[str, list[str]]:
    """What the lightbox shows under an image: where it came from and what was made of it, with the operation."""

    def line(link: dict) -> str:
        p = link['params']
        how = f' {p["op"]} ({p.get("method", "")}, {p.get("ms", 0):.0f} ms)' if 'op' in p else ''
        return f'{link["relation"]}{how} {link["asset_id"][:8]}'

    return {'from': [line(p) for p in links['parents']], 'to': [line(c) for c in links['children']]}


def register(deps: Deps) -> None:
    runner = PostprocessRunner(deps.sessions, deps.store, deps.secrets)

    @ui.page('/postprocess')
    def postprocess_page() -> None:
        with project_frame(deps, 'Post-process') as project:
            if project is None:
                return
            slug = project.slug
            with deps.sessions() as s:
                page = assets.list_assets(s, project.id, AssetFilter(status='approved'), page_size=200)
                sheets = assets.list_assets(s, project.id, AssetFilter(kind='character'), page_size=100).items
                approved = [a for a in page.items if a.kind != AssetKind.derived] + sheets
                live = assets.list_assets(s, project.id, AssetFilter(kind='derived'), page_size=48).items
                derived = [a for a in live if a.status != ReviewState.archived][:24]
            defaults, profiles = postprocess_runs.settings_for(project), postprocess_runs.colour_profiles(project)
            names = {a.id: a.original_name or a.id[:8] for a in approved}

            def details(asset_id: str) -> dict[str, list[str]]:
                with deps.sessions() as s:
                    return lineage_text(assets.lineage(s, project.id, asset_id))

            box = Lightbox(slug, details=details)
            ui.label(f'Post-process · {project.name}').classes('text-2xl font-semibold')
            with ui.row().classes('items-end gap-4'):
                source = ui.toggle({'assets': 'Chosen images', 'stage': 'Whole stage'}, value='assets').mark(
                    'pp-source'
                )
                stage = (
                    ui.select([s.value for s in Stage], value='style', label='Stage').classes('w-36').mark('pp-stage')
                )
                stage.bind_visibility_from(source, 'value', lambda v: v == 'stage')
                pick = ui.select(names, multiple=True, label='Approved images and character sheets (click)')
                pick.classes('w-96')
                pick.props('use-chips').mark('pp-assets').bind_visibility_from(source, 'value', lambda v: v == 'assets')

            def toggle(a: AssetRead) -> None:
                chosen = list(pick.value or [])
                pick.set_value([i for i in chosen if i != a.id] if a.id in chosen else [*chosen, a.id])

            if not approved:
                ui.label('No approved images yet: approve candidates in Review first.').classes('text-gray-500')
            gallery_grid(slug, approved, on_select=toggle, columns=8)
            with ui.row().classes('items-center gap-4'):
                bg = ui.checkbox('Remove background from every chosen image', value=defaults.cutout == 'all')
                bg.mark('pp-step-bg').tooltip('Off: scene panels keep their background; character sheets are cut out.')
                up = ui.checkbox('Upscale', value='upscale' in defaults.steps).mark('pp-step-upscale')
                scale = ui.toggle({2: '×2', 4: '×4'}, value=defaults.scale).mark('pp-scale')
                colour = ui.checkbox('Colour profile', value='color' in defaults.steps).mark('pp-step-color')
                profile = ui.select(sorted(profiles), value=defaults.profile, label='Profile').classes('w-48')
                profile.mark('pp-profile')
            fields = ', '.join(f for f in profiles['neutral'].to_dict() if f != 'name')
            with ui.expansion('Define a colour profile', caption=f'name, then any of: {fields}', icon='palette'):
                text = ui.textarea('Profile (JSON)', value=PROFILE_EXAMPLE).classes('w-full').mark('profile-json')

                @notify_errors
                def save_profile() -> None:
                    try:
                        data = json.loads(text.value or '')
                    except json.JSONDecodeError as e:
                        raise Invalid(f'The profile is not valid JSON: {e.msg} (line {e.lineno}).') from e
                    with deps.sessions() as s:
                        saved = postprocess_runs.save_colour_profile(s, slug, data)
                    profile.set_options(sorted({*profile.options, saved.name}), value=saved.name)
                    ui.notify(f'Colour profile {saved.name} saved', type='positive')

                ui.button('Save profile', icon='save', on_click=save_profile).props('outline').mark('save-profile')

            progress = ThreadProgress('Run', 'auto_fix_high', mark='pp')
            results = ui.column().classes('w-full gap-4')

            def show(result: PostprocessResult) -> None:
                results.clear()
                with deps.sessions() as s:
                    ids = [o.asset_id for o in result.outputs]
                    made = assets.list_assets(s, project.id, AssetFilter(ids=ids), page_size=500)
                with results:
                    for failure in result.failures:
                        ui.label(failure.reason).classes('text-negative').mark('pp-failure')
                    for source_id, final in result.finals().items():
                        qa = f'QA {final.verdict}' + (' · archived (see below)' if final.archived else ' · on Pages')
                        line = f'{names.get(source_id, source_id[:8])}: {" → ".join(final.ops)} · {qa}'
                        ui.label(line).mark('pp-result')
                        CompareSlider(image_url(slug, source_id), image_url(slug, final.asset_id))
                    ui.label('Every output (click for lineage)').classes('text-lg font-semibold')
                    gallery_grid(slug, made.items, lightbox=box)

            @notify_errors
            async def start() -> None:
                steps = [op for op, box_ in (('upscale', up), ('color', colour)) if box_.value]
                chosen = list(pick.value or []) if source.value == 'assets' else []
                if not steps and not bg.value and not any(a.id in chosen for a in sheets):
                    raise Invalid('Choose at least one step.', code='invalid_step')
                req = PostprocessRequest(
                    asset_ids=chosen or None,
                    stage=stage.value if source.value == 'stage' else None,
                    steps=['bg', *steps],
                    profile=profile.value,
                    scale=int(scale.value),
                    cutout='all' if bg.value else 'sheets',
                )
                show(await progress.run(runner.run, slug, req))
                archived_section.refresh()

            @notify_errors
            def restore(asset_id: str) -> None:
                with deps.sessions() as s:
                    back = archive.restore_output(s, project.id, asset_id)
                ui.notify(
                    f'{back.original_name or asset_id[:8]} restored: it is offered on Pages again', type='positive'
                )
                archived_section.refresh()

            progress.button.on_click(start)
            ui.label('Archived by QA').classes('text-lg font-semibold')

            @ui.refreshable
            def archived_section() -> None:
                with deps.sessions() as s:
                    items = archive.archived_outputs(s, project.id)
                archived_list(slug, items, restore)

            archived_section()
            if derived:
                ui.label('Earlier outputs (offered on Pages)').classes('text-lg font-semibold')
                gallery_grid(slug, derived, lightbox=box, columns=8)
