"""The registry builds every kind from config; the catalog and the retry helper behave as the run engine expects."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from services.errors import Invalid, ProviderBadRequest, ProviderRateLimited, ProviderUnavailable
from services.providers.base import Provider, ProviderConfig
from services.providers.catalog import comfyui_template, model_catalog
from services.providers.registry import build_provider
from services.providers.retry import with_retries
from services.providers.workflow import fill_workflow, placeholders


def test_build_provider_for_every_kind() -> None:
    for kind, offline in (('local', True), ('openai', False), ('comfyui', False)):
        provider = build_provider(ProviderConfig(kind=kind, model='m', api_key='sk-secret-value'))
        assert isinstance(provider, Provider)
        assert (provider.kind, provider.is_offline) == (kind, offline)
    assert build_provider(ProviderConfig(kind='local')).gate.limit == 4
    assert build_provider(ProviderConfig(kind='openai')).gate.limit == 1
    assert build_provider(ProviderConfig(kind='comfyui', options={'concurrency': 3})).gate.limit == 3
    with pytest.raises(Invalid, match='Unknown provider kind'):
        build_provider(ProviderConfig(kind='midjourney'))


def test_config_repr_never_shows_the_key() -> None:
    config = ProviderConfig(kind='openai', api_key='sk-very-secret-123')
    assert 'sk-very-secret-123' not in repr(config) and 'sk-very-secret-123' not in str(config)


def test_catalog_lists_current_models_with_limits_and_prices() -> None:
    catalog = model_catalog()
    assert catalog['as_of'] == '2026-11-25'
    for model in ('gpt-image-2', 'gpt-image-2.5-flare', 'gpt-image-2.6-flare'):
        entry = catalog['models'][model]
        assert entry['max_input_images'] == 16 and entry['input_fidelity'] is False
        assert entry['pricing']['per_image']['medium']['1024x1536'] > 0
    assert 'gpt-image-1' in catalog['retired'] and 'gpt-image-1' not in catalog['models']


def test_assets_dir_can_be_swapped(tmp_path: Path) -> None:
    (tmp_path / 'providers').mkdir()
    (tmp_path / 'providers' / 'openai_models.json').write_text(json.dumps({'as_of': '2030-01-01', 'models': {}}))
    assert model_catalog(tmp_path)['as_of'] == '2030-01-01'
    with pytest.raises(Invalid, match='missing'):
        comfyui_template(tmp_path)


def test_default_template_fills_with_json_types() -> None:
    template = comfyui_template()
    assert placeholders(template) == {
        'checkpoint',
        'prompt',
        'negative_prompt',
        'image',
        'width',
        'height',
        'seed',
        'steps',
        'cfg',
        'denoise',
        'filename_prefix',
    }
    values = {
        'checkpoint': 'a.safetensors',
        'prompt': 'p',
        'negative_prompt': 'n',
        'image': 'in.png',
        'width': 512,
        'height': 768,
        'seed': 7,
        'steps': 20,
        'cfg': 6.5,
        'denoise': 0.55,
        'filename_prefix': 'kroma/style',
    }
    graph = fill_workflow(template, values)
    assert graph['3']['inputs']['seed'] == 7 and graph['3']['inputs']['denoise'] == 0.55
    assert graph['11']['inputs']['width'] == 512 and '{{' not in json.dumps(graph)
    assert template['3']['inputs']['seed'] == '{{seed}}'  # the template itself is untouched


async def test_with_retries_retries_only_retryable_errors() -> None:
    calls = []

    async def flaky() -> str:
        calls.append(time.monotonic())
        if len(calls) < 3:
            raise ProviderUnavailable('down')
        return 'ok'

    assert await with_retries(flaky, max_retries=3, max_total_s=5, base_delay=0.02) == 'ok'
    assert len(calls) == 3

    async def bad() -> None:
        calls.append(0)
        raise ProviderBadRequest('no')

    calls.clear()
    with pytest.raises(ProviderBadRequest) as info:
        await with_retries(bad, max_retries=5, max_total_s=5)
    assert len(calls) == 1 and info.value.details['attempts'] == 1


async def test_with_retries_honours_retry_after_and_the_time_budget() -> None:
    started = time.monotonic()

    async def limited() -> None:
        raise ProviderRateLimited('slow down', retry_after=0.3)

    with pytest.raises(ProviderRateLimited) as info:
        await with_retries(limited, max_retries=10, max_total_s=0.8, base_delay=0.01)
    elapsed = time.monotonic() - started
    assert info.value.details['attempts'] == 3  # waits 0.3 s twice, a third wait would pass 0.8 s
    assert 0.55 < elapsed < 0.8
    await asyncio.sleep(0)
