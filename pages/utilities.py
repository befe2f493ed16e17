"""Utility lab (U01): drop an image, cut out / upscale / recolour / generate once, download; no project involved."""

from __future__ import annotations

import time
from pathlib import Path

from fastapi import HTTPException
from fastapi.responses import FileResponse
from nicegui import app, events, run, ui

from components.compare_slider import CompareSlider
from components.errors import notify_errors
from components.theme import frame
from pages.common import project_slugs
from services.deps import Deps
from services.errors import Invalid, KromaError
from services.postprocess.colour import builtin_profiles
from services.providers import accounts as provider_accounts
from services.utilities.scratch import OFFLINE, ScratchArea, UtilityResult, apply_utility, generate_once, open_image


def register(deps: Deps) -> None:
    area = ScratchArea(deps.data_dir)

    @app.get('/scratch/{session_id}/{name}', include_in_schema=False)
    async def scratch_file(session_id: str, name: str) -> FileResponse:
        try:
            path = area.path(session_id, name)
        except KromaError as e:
            raise HTTPException(status_code=e.status, detail=e.user_message) from e
        return FileResponse(path, media_type='image/png', headers={'Cache-Control': 'no-store'})

    @ui.page('/utilities')
    def utilities_page() -> None:
        with deps.sessions() as s:
            accounts = provider_accounts.list_accounts(s, kinds=provider_accounts.GENERATION_KINDS)
        choices = {'offline': 'Offline renderer (free)'} | {
            a.id: f'{a.name} ({a.kind.value})' for a in accounts if a.project_id is None and a.kind.value != 'local'
        }
        sid = area.new_session()
        state: dict = {'input': None, 'stem': 'image', 'url': None}

        def url(path: Path) -> str:
            return f'/scratch/{sid}/{path.name}?v={time.monotonic_ns()}'  # same name, new bytes: defeat the cache

        with frame('Utilities', project_slugs=project_slugs(deps)):
            ui.label('Utility lab').classes('text-2xl font-semibold')
            ui.label('No project needed: files stay in a scratch folder that is cleared after a day.').classes(
                'text-gray-600'
            )

            @notify_errors
            async def on_upload(e: events.UploadEventArguments) -> None:
                data = await e.file.read()
                await run.io_bound(open_image, data, e.file.name)  # refuse a non-image at once, with the reason
                state.update(input=data, stem=Path(e.file.name).stem or 'image')
                state['url'] = url(area.save(sid, f'{state["stem"]}-input.png', data))
                show(None, None)

            ui.upload(label='Drop an image (PNG, JPEG, WebP)', auto_upload=True, on_upload=on_upload).props(
                'accept=image/*'
            ).classes('w-96').mark('util-upload')
            with ui.row().classes('items-center gap-3'):
                ui.button('Remove background', icon='content_cut', on_click=lambda: apply('remove-bg')).mark(
                    'util-remove-bg'
                )
                scale = ui.toggle({2: '×2', 4: '×4'}, value=2).mark('util-scale')
                ui.button('Upscale', icon='zoom_out_map', on_click=lambda: apply('upscale')).mark('util-upscale')
                profile = ui.select(sorted(builtin_profiles()), value='neutral', label='Profile').classes('w-40')
                profile.mark('util-profile')
                ui.button('Recolour', icon='palette', on_click=lambda: apply('recolor')).mark('util-recolor')
            with ui.expansion('Generate once', icon='auto_awesome').classes('w-full'):
                with ui.row().classes('items-center gap-3 w-full'):
                    prompt = ui.input('Prompt').classes('grow').mark('util-prompt')
                    account = (
                        ui.select(choices, value='offline', label='Provider').classes('w-64').mark('util-provider')
                    )
                    confirm = ui.checkbox('I confirm the spend (paid providers)').mark('util-confirm')
                    ui.button('Generate', icon='brush', on_click=lambda: generate()).mark('util-generate')
            result_box = ui.column().classes('w-full gap-2')

            def show(result: UtilityResult | None, after: str | None) -> None:
                result_box.clear()
                with result_box:
                    if result is None or after is None:
                        ui.image(after or state['url']).props('fit=contain').classes('w-96').mark('util-preview')
                        return
                    alpha = ' · transparent background' if result.has_alpha else ''
                    ui.label(
                        f'{result.op}: {result.width}×{result.height} · {result.method} · {result.ms:.0f} ms{alpha}'
                    )
                    if state['url']:
                        CompareSlider(state['url'], after)
                    else:
                        ui.image(after).props('fit=contain').classes('w-96').mark('util-preview')
                    name = f'{state["stem"]}-{result.op}.png'
                    with ui.row():
                        ui.button(
                            'Download PNG',
                            icon='download',
                            on_click=lambda: ui.download.content(result.png, name, 'image/png'),
                        ).mark('util-download')
                        ui.button('Use as input', icon='redo', on_click=lambda: use(result, after)).props(
                            'outline'
                        ).mark('util-use-result')

            def use(result: UtilityResult, after: str) -> None:
                """Chain operations: the result becomes the next input (e.g. cut out, then upscale)."""
                state.update(input=result.png, url=after)
                show(None, None)

            @notify_errors
            async def apply(op: str) -> None:
                if state['input'] is None:
                    raise Invalid('Drop an image first.', code='no_image')
                result = await run.io_bound(
                    apply_utility, state['input'], op, scale=int(scale.value), profile=profile.value
                )
                show(result, url(area.save(sid, f'{state["stem"]}-{op}.png', result.png)))

            @notify_errors
            async def generate() -> None:
                config = OFFLINE
                if account.value != 'offline':
                    with deps.sessions() as s:
                        config = provider_accounts.provider_config(s, account.value, secrets=deps.secrets)
                started = time.perf_counter()
                data, _cost = await generate_once(
                    config, prompt.value or '', image=state['input'], confirm_spend=confirm.value
                )
                ms = (time.perf_counter() - started) * 1000
                info = await run.io_bound(open_image, data)
                result = UtilityResult(data, 'generate', config.kind, info.width, info.height, False, ms)
                show(result, url(area.save(sid, f'{state["stem"]}-generate.png', data)))
