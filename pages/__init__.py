"""Journey pages; each module's register(deps) declares its routes."""

from __future__ import annotations

from services.deps import Deps


def register_all(deps: Deps) -> None:
    from pages import dashboard, media, placeholders

    media.register(deps)
    dashboard.register(deps)
    placeholders.register(deps)
