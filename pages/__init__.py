"""Journey pages; each module's register(deps) declares its routes."""

from __future__ import annotations

from services.deps import Deps

BUILT = {'/runs', '/review', '/postprocess', '/utilities', '/backups', '/setup', '/references'}


def register_all(deps: Deps) -> None:
    from pages import backups, dashboard, media, placeholders, postprocess, references, review, runs, setup, utilities

    media.register(deps)
    dashboard.register(deps)
    runs.register(deps)
    review.register(deps)
    postprocess.register(deps)
    utilities.register(deps)
    backups.register(deps)
    setup.register(deps)
    references.register(deps)
    placeholders.register(deps, only=set(placeholders.PLANNED) - BUILT)
