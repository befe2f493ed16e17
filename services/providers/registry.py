"""The one module that knows every provider adapter: build a provider from an account's config."""

from __future__ import annotations

from pathlib import Path

import httpx

from services.errors import Invalid
from services.providers.base import Provider, ProviderConfig
from services.providers.catalog import DEFAULT_ASSETS_DIR, comfyui_template, model_catalog

KINDS = ('local', 'openai', 'comfyui')


def build_provider(
    config: ProviderConfig, *, client: httpx.AsyncClient | None = None, assets_dir: Path | None = None
) -> Provider:
    """One provider per account; keep and reuse it, since its concurrency limit lives in the instance."""
    assets = assets_dir or DEFAULT_ASSETS_DIR
    if config.kind == 'local':
        from services.providers.local import LocalProvider

        return LocalProvider(config)
    if config.kind == 'openai':
        from services.providers.openai_images import OpenAIImagesProvider

        return OpenAIImagesProvider(config, catalog=model_catalog(assets), client=client)
    if config.kind == 'comfyui':
        from services.providers.comfyui import ComfyUIProvider

        return ComfyUIProvider(config, template=comfyui_template(assets), client=client)
    raise Invalid(f'Unknown provider kind {config.kind!r}; use one of {", ".join(KINDS)}.', code='provider_kind')
