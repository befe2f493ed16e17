"""Journey pages; each module's register(deps) declares its routes."""

from __future__ import annotations

from services.deps import Deps


def register_all(deps: Deps) -> None:
    from pages import (
        audit,
        backups,
        bootstrap,
        character_detail,
        characters,
        comic_pages,
        continuity,
        copilot,
        dashboard,
        export,
        gallery,
        instructions,
        login,
        media,
        postprocess,
        prompt_templates,
        reference_sets,
        references,
        review,
        runs,
        scenes,
        settings,
        setup,
        style_guides,
        utilities,
    )

    login.register(deps)
    media.register(deps)
    dashboard.register(deps)
    runs.register(deps)
    review.register(deps)
    postprocess.register(deps)
    utilities.register(deps)
    backups.register(deps)
    setup.register(deps)
    references.register(deps)
    for module in (characters, character_detail, style_guides, scenes, continuity, reference_sets, prompt_templates):
        module.register(deps)
    gallery.register(deps)
    bootstrap.register(deps)
    copilot.register(deps)
    instructions.register(deps)
    comic_pages.register(deps)
    export.register(deps)
    settings.register(deps)
    audit.register(deps)
