"""Projects (J01): the project list with a create dialog, and a project overview with stat cards and images."""

from __future__ import annotations

from nicegui import ui

from components.charts import identity_chart, pass_rate_chart, style_chart
from components.errors import notify_errors
from components.gallery import Lightbox, gallery_grid
from components.theme import frame, set_current_project, stat_card
from models.project import ProjectCreate, ProjectSummary
from pages.common import not_found_page, project_slugs
from services.deps import Deps
from services.errors import KromaError, NotFound, parse
from services.projects import assets, projects
from services.review import qa_stats


def render_project_list(rows: list[ProjectSummary]) -> None:
    if not rows:
        ui.label('No projects yet. Create one to start.').classes('text-gray-500')
    with ui.row().classes('gap-4 flex-wrap'):
        for row in rows:
            p, st = row.project, row.stats
            with (
                ui.card()
                .classes('w-72 cursor-pointer')
                .on('click', lambda _, s=p.slug: ui.navigate.to(f'/projects/{s}'))
                .mark(f'project-card-{p.slug}')
            ):
                ui.label(p.name).classes('text-lg font-semibold')
                ui.label(p.slug).classes('text-xs text-gray-500 font-mono')
                ui.label(p.description or ' ').classes('text-sm text-gray-600 line-clamp-2')
                ui.label(f'{st.assets} assets · {st.runs} runs · {st.approved} approved · ${st.spend_usd:.2f}').classes(
                    'text-xs'
                )


def register(deps: Deps) -> None:
    @ui.page('/')
    def project_list_page() -> None:
        with frame('Projects', project_slugs=project_slugs(deps)):
            with ui.row().classes('items-center w-full'):
                ui.label('Projects').classes('text-2xl font-semibold')
                ui.space()
                ui.button('New project', icon='add', on_click=lambda: dialog.open()).mark('new-project')

            @ui.refreshable
            def listing() -> None:
                with deps.sessions() as s:
                    render_project_list(projects.list_projects(s))

            listing()
            with ui.dialog() as dialog, ui.card().classes('w-96'):
                ui.label('New project').classes('text-lg font-semibold')
                name = ui.input('Name').classes('w-full').mark('project-name')
                slug = ui.input('Slug (from the name; editable)', placeholder='lowercase-with-dashes').classes('w-full')
                slug.mark('project-slug')
                error = ui.label().classes('text-negative text-sm').mark('project-error')
                auto = {'slug': ''}  # the slug follows the name until the artist edits it

                def follow_name() -> None:
                    if (slug.value or '') == auto['slug']:
                        auto['slug'] = projects.suggest_slug(name.value or '')
                        slug.set_value(auto['slug'])

                name.on_value_change(follow_name)

                def check_slug() -> bool:
                    try:
                        projects.validate_slug(slug.value or '')
                    except KromaError as e:
                        error.set_text(e.user_message)
                        return False
                    error.set_text('')
                    return True

                slug.on('blur', check_slug)

                @notify_errors
                def create() -> None:
                    if not check_slug():
                        ui.notify(error.text, type='negative')
                        return
                    data = parse(ProjectCreate, slug=slug.value or '', name=name.value or slug.value or '')
                    with deps.sessions() as s:
                        p = projects.create_project(s, data, data_dir=deps.data_dir)
                    ui.notify(f'Project {p.slug} created', type='positive')
                    dialog.close()
                    listing.refresh()

                with ui.row().classes('w-full justify-end'):
                    ui.button('Cancel', on_click=dialog.close).props('flat')
                    ui.button('Create', on_click=create).mark('create-project')

    @ui.page('/projects/{slug}')
    def project_page(slug: str) -> None:
        try:
            with deps.sessions() as s:
                project = projects.get_project(s, slug)
        except NotFound:
            not_found_page(deps, 'Not found', f'There is no project "{slug[:64]}".')
            return
        with deps.sessions() as s:
            stats = projects.project_stats(s, project.id)
            page = assets.list_assets(s, project.id, page_size=24)
            rates = qa_stats.pass_rate_per_run(s, project.id)
            style_points = qa_stats.style_over_time(s, project.id)
            identity = qa_stats.identity_by_character(s, project.id)
        set_current_project(slug)
        with frame(project.name, project_slugs=project_slugs(deps)):
            ui.label(project.description).classes('text-gray-600')
            with ui.row().classes('gap-4'):
                stat_card('Runs', str(stats.runs), mark='stat-runs')
                stat_card('Assets', str(stats.assets), mark='stat-assets')
                stat_card('Approved', str(stats.approved), mark='stat-approved')
                stat_card('Spend', f'${stats.spend_usd:.2f} of ${project.budget_usd:.2f}', mark='stat-spend')
                rate = '—' if stats.qa_pass_rate is None else f'{stats.qa_pass_rate:.0%}'
                stat_card('QA pass rate', rate, mark='stat-qa')
            if rates:
                with ui.grid(columns=3).classes('w-full gap-4'):
                    pass_rate_chart(rates)
                    style_chart(style_points)
                    identity_chart(identity)
            ui.label(f'Latest images ({page.total} in all)').classes('text-lg font-semibold')
            box = Lightbox(slug)
            gallery_grid(slug, page.items, lightbox=box)
