"""Journey pages; each module's register(deps) declares its routes."""

from __future__ import annotations

from services.deps import Deps

BUILT = {'/runs', '/review', '/postprocess', '/utilities'}


def register_all(deps: Deps) -> None:
    from pages import dashboard, media, placeholders, postprocess, review, runs, utilities

    media.register(deps)
    dashboard.register(deps)
    runs.register(deps)
    review.register(deps)
    postprocess.register(deps)
    utilities.register(deps)
    placeholders.register(deps, only=set(placeholders.PLANNED) - BUILT)
