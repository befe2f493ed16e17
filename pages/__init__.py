"""Journey pages; each module's register(deps) declares its routes."""

from __future__ import annotations

from services.deps import Deps


def register_all(deps: Deps) -> None:
    from pages import (
        audit,
        backups,
        copilot,
        dashboard,
        export,
        instructions,
        layout,
        login,
        media,
        postprocess,
        references,
        review,
        runs,
        settings,
        setup,
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
    copilot.register(deps)
    instructions.register(deps)
    layout.register(deps)
    export.register(deps)
    settings.register(deps)
    audit.register(deps)
