"""Review (J04–J06): candidates beside their inputs, metric badges, keyboard review (←/→, a, r, s), retry notes."""

from __future__ import annotations

from nicegui import events, ui

from components.candidate_compare import candidate_row, compare_pair, inputs_strip, metric_legend
from components.continuity_views import continuity_notes
from components.errors import notify_errors
from components.gallery import Lightbox
from components.theme import frame
from pages.common import not_found_page, project_frame, project_slugs
from services.deps import Deps
from services.errors import NotFound
from services.projects import projects
from services.review import continuity as review_continuity
from services.review import decisions as review
from services.runs import queue as run_queue
from services.runs import status as run_status

PAST = {'approve': 'approved', 'reject': 'rejected', 'shortlist': 'shortlisted'}


def register(deps: Deps) -> None:
    @ui.page('/review')
    def review_index() -> None:
        with project_frame(deps, 'Review') as project:
            if project is None:
                return
            with deps.sessions() as s:
                rows = run_status.list_runs(s, project.id)
            ui.label('Runs to review').classes('text-2xl font-semibold')
            for r in [r for r in rows if r.mode.value == 'run']:
                ui.link(
                    f'{r.stage.value} · {r.status.value} · {r.done}/{r.total} · {r.created_at:%Y-%m-%d %H:%M}',
                    f'/review/{r.id}',
                ).mark('review-run-link')

    @ui.page('/review/{run_id}')
    def review_run(run_id: str) -> None:
        try:
            with deps.sessions() as s:
                project = projects.get_project_by_id(s, run_queue.get_run_any(s, run_id).project_id)
        except NotFound:
            not_found_page(deps, 'Not found', f'There is no run "{run_id[:40]}".')
            return
        slug = project.slug
        state: dict = {'job': 0, 'cand': {}, 'compare': []}

        notes: dict[str, review_continuity.JobContinuity] = {}

        def load() -> list[review.JobView]:
            with deps.sessions() as s:
                views = review.run_review(s, project.id, run_id)
                notes.update(review_continuity.job_continuity(s, views))  # bible versions, ledger flags (#22)
                return views

        jobs = load()
        for i, j in enumerate(jobs):  # the best candidate is pre-selected
            state['cand'][i] = j.candidates.index(j.best) if j.best else 0

        with frame(f'Review {run_id[:8]}', project_slugs=project_slugs(deps)):
            ui.label('Keys: ←/→ move · ↑/↓ scene · a approve · r reject · s shortlist').classes('text-sm text-gray-500')

            @notify_errors
            def decide(decision: str) -> None:
                job = jobs[state['job']]
                cand = job.candidates[state['cand'][state['job']]]
                with deps.sessions() as s:
                    review.decide(s, project.id, cand.id, decision)
                ui.notify(
                    f'{job.scene}: candidate #{cand.index + 1} {PAST[decision]}',
                    type='positive' if decision == 'approve' else 'info',
                )
                refresh()

            @notify_errors
            def retry(job_index: int, note: str) -> None:
                job = jobs[job_index]
                with deps.sessions() as s:
                    review.mark_retry(s, project.id, job.scene_id, job.stage, note)
                ui.notify(f'{job.scene} marked for retry')
                refresh()

            def refresh() -> None:
                jobs[:] = load()
                board.refresh()

            def pick(job_index: int, cand_index: int) -> None:
                state['job'], state['cand'][job_index] = job_index, cand_index
                board.refresh()

            def open_full(job_index: int, cand_index: int) -> None:
                shown = [c for c in jobs[job_index].candidates if c.asset]
                target = jobs[job_index].candidates[cand_index]
                box.open([c.asset for c in shown], shown.index(target))

            def toggle_compare(candidate_id: str) -> None:
                picked = [i for i in state['compare'] if i != candidate_id]
                if candidate_id not in state['compare']:
                    picked = [*picked, candidate_id][-2:]
                state['compare'] = picked
                board.refresh()
                if len(picked) == 2:
                    by_id = {c.id: c for j in jobs for c in j.candidates}
                    pair_box.clear()
                    with pair_box:
                        compare_pair(slug, [by_id[i] for i in picked])
                    pair_dialog.open()

            @ui.refreshable
            def board() -> None:
                for ji, job in enumerate(jobs):
                    active = 'border-l-4 border-accent' if ji == state['job'] else ''
                    with ui.column().classes(f'w-full gap-2 pl-3 {active}').mark('review-job'):
                        ui.label(job.scene).classes('text-lg font-semibold')
                        if job.retry_note:
                            ui.label(f'Retry requested: {job.retry_note}').classes('text-warning text-sm')
                        inputs_strip(slug, job)
                        candidate_row(
                            slug,
                            job,
                            state['cand'].get(ji),
                            lambda ci, ji=ji: pick(ji, ci),
                            on_open=lambda ci, ji=ji: open_full(ji, ci),
                            on_compare=toggle_compare,
                            comparing=state['compare'],
                        )
                        chosen = job.candidates[state['cand'].get(ji, 0)].id if job.candidates else None
                        continuity_notes(notes.get(job.id), chosen)
                        with ui.row().classes('items-center'):
                            note = ui.input('Retry note').classes('w-96').mark('retry-note')
                            ui.button(
                                'Mark scene for retry', on_click=lambda _, ji=ji, n=note: retry(ji, n.value)
                            ).props('flat').mark('retry-scene')

            box = Lightbox(slug)
            with ui.dialog().props('maximized') as pair_dialog, ui.card().classes('w-full h-full'):
                with ui.row().classes('w-full items-center'):
                    ui.label('Two candidates side by side').classes('text-lg font-semibold')
                    ui.space()
                    ui.button(icon='close', on_click=pair_dialog.close).props('flat round').mark('compare-close')
                pair_box = ui.column().classes('w-full')
            metric_legend()
            with ui.row():
                ui.button('Approve (a)', on_click=lambda: decide('approve')).mark('approve-button')
                ui.button('Shortlist (s)', on_click=lambda: decide('shortlist')).props('outline').mark(
                    'shortlist-button'
                )
                ui.button('Reject (r)', on_click=lambda: decide('reject')).props('outline color=negative').mark(
                    'reject-button'
                )
            board()

            def on_key(e: events.KeyEventArguments) -> None:
                if not e.action.keydown or not jobs or box.dialog.value or pair_dialog.value:
                    return
                j = state['job']
                count = len(jobs[j].candidates) or 1
                if e.key.arrow_right or e.key.arrow_left:
                    state['cand'][j] = (state['cand'].get(j, 0) + (1 if e.key.arrow_right else -1)) % count
                    board.refresh()
                elif e.key.arrow_down or e.key.arrow_up:
                    state['job'] = (j + (1 if e.key.arrow_down else -1)) % len(jobs)
                    board.refresh()
                elif e.key.name in ('a', 'r', 's'):
                    decide({'a': 'approve', 'r': 'reject', 's': 'shortlist'}[e.key.name])

            ui.keyboard(on_key, ignore=['input', 'textarea']).mark('review-keys')
