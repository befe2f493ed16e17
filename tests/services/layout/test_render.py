"""Page rendering with real files: panels filled by crop/zoom, balloons on top, sources never modified."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from services.errors import Invalid, NotFound
from services.files import sha256_file
from services.layout.balloons import Balloon
from services.layout.render import PageSpec, PanelSpec, render_page
from services.layout.templates import page_pixels, panel_rects

COLOURS = [(200, 40, 40), (40, 170, 60), (50, 70, 200), (210, 180, 30)]


def _source(path: Path, colour: tuple[int, int, int], size: tuple[int, int] = (480, 360)) -> Path:
    """A saturated image with mild texture: no white and no near-black pixels, so balloons are easy to find."""
    rng = np.random.default_rng(sum(colour))
    base = np.array(colour, dtype=np.int16)
    noise = rng.integers(-15, 16, (size[1], size[0], 3), dtype=np.int16)
    Image.fromarray(np.clip(base + noise, 30, 225).astype(np.uint8)).save(path)
    return path


@pytest.fixture
def sources(tmp_path: Path) -> list[Path]:
    return [_source(tmp_path / f'src{i}.png', c) for i, c in enumerate(COLOURS)]


def _close(px: np.ndarray, colour: tuple[int, int, int], tol: int = 25) -> bool:
    return bool(np.all(np.abs(px.astype(int) - colour) <= tol))


def test_four_panels_with_two_balloons(sources: list[Path]) -> None:
    hashes = [sha256_file(p) for p in sources]
    balloons = {
        0: (Balloon('Did you hear that noise from the cellar last night?', 0.5, 0.35, width=0.7),),
        3: (Balloon('Meanwhile, downstairs...', 0.5, 0.2, kind='caption', width=0.8),),
    }
    panels = tuple(
        PanelSpec(i, p, {'zoom': 1.0, 'x': 0.5, 'y': 0.5}, balloons.get(i, ())) for i, p in enumerate(sources)
    )
    page = PageSpec(1, 'four', 'us_comic', panels)
    image = render_page(page, dpi=100)

    width, height = page_pixels('us_comic', 100)
    assert image.size == (width, height) and image.mode == 'RGB'
    px = np.asarray(image)
    assert tuple(px[2, 2]) == (255, 255, 255)  # white page margin
    rects = panel_rects('four', width, height)
    for (x, y, w, h), colour in zip(rects, COLOURS, strict=True):
        assert tuple(px[y + h // 2, x]) == (0, 0, 0)  # black border
        assert _close(px[y + h - 15, x + w - 15], colour)  # art away from the balloons
        region = px[y + 5 : y + h - 5, x + 5 : x + w - 5]
        white = region.min(axis=2) > 245
        if slot_has_balloon := (rects.index((x, y, w, h)) in balloons):
            ys, xs = np.nonzero(white)
            inside = region[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
            assert (inside.max(axis=2) < 60).sum() > 100  # dark text on the white balloon
        assert white.any() == slot_has_balloon
    assert [sha256_file(p) for p in sources] == hashes  # sources untouched


def test_empty_slot_shows_a_light_placeholder(sources: list[Path]) -> None:
    page = PageSpec(2, 'two', 'a4', (PanelSpec(0, sources[0]),))
    image = render_page(page, dpi=60)
    x, y, w, h = panel_rects('two', *image.size)[1]
    px = np.asarray(image)
    corner = px[y + h // 4, x + 10]
    assert corner.min() > 220 and corner.max() < 250


def test_crop_focal_point_and_zoom(tmp_path: Path) -> None:
    halves = np.zeros((400, 800, 3), dtype=np.uint8)
    halves[:, :400] = (220, 30, 30)
    halves[:, 400:] = (30, 30, 220)
    src = tmp_path / 'halves.png'
    Image.fromarray(halves).save(src)

    def centre(crop: dict) -> np.ndarray:
        image = render_page(PageSpec(1, 'splash', 'us_comic', (PanelSpec(0, src, crop),)), dpi=60)
        x, y, w, h = panel_rects('splash', *image.size)[0]
        return np.asarray(image)[y + h // 2, x + w // 2]

    assert _close(centre({'zoom': 1.0, 'x': 0.0, 'y': 0.5}), (220, 30, 30), 10)
    assert _close(centre({'zoom': 1.0, 'x': 1.0, 'y': 0.5}), (30, 30, 220), 10)
    assert _close(centre({'zoom': 4.0, 'x': 0.3, 'y': 0.5}), (220, 30, 30), 10)


def test_preview_is_small_and_scaled(sources: list[Path]) -> None:
    page = PageSpec(1, 'six', 'us_comic', tuple(PanelSpec(i, p) for i, p in enumerate(sources)))
    preview = render_page(page, preview_width=300)
    full_w, full_h = page_pixels('us_comic', 150)
    assert preview.size == (300, round(full_h * 300 / full_w))


def test_grid_and_webtoon_render(sources: list[Path]) -> None:
    grid = {'rows': 2, 'cols': 3, 'gutter': 20}
    page = PageSpec(1, 'grid', 'webtoon', tuple(PanelSpec(i, p) for i, p in enumerate(sources)), grid)
    assert page.slots() == 6
    assert render_page(page).size == (800, 3200)


def test_spec_round_trips_through_dicts(sources: list[Path]) -> None:
    page = PageSpec(
        3,
        'grid',
        'a4',
        (PanelSpec(1, sources[0], {'zoom': 2, 'x': 0.2, 'y': 0.8}, (Balloon('Hi', 0.5, 0.5),)),),
        {'rows': 2, 'cols': 2, 'gutter': 10},
    )
    assert PageSpec.from_dict(page.to_dict()) == page
    assert page.panels[0].crop == {'zoom': 2.0, 'x': 0.2, 'y': 0.8}


@pytest.mark.parametrize(
    ('build', 'match'),
    [
        (lambda p: PageSpec(1, 'two', 'a4', (PanelSpec(2, p),)), 'does not exist'),
        (lambda p: PageSpec(1, 'two', 'a4', (PanelSpec(0, p), PanelSpec(0, p))), 'twice'),
        (lambda p: PageSpec(1, 'seven', 'a4', ()), 'template'),
        (lambda p: PageSpec(1, 'two', 'letter', ()), 'page size'),
        (lambda p: PageSpec(0, 'two', 'a4', ()), 'Page number'),
        (lambda p: PanelSpec(0, p, {'zoom': 5}), 'zoom'),
        (lambda p: PanelSpec(0, p, {'x': -0.1}), 'x'),
        (lambda p: PanelSpec(0, p, {'rotate': 90}), 'rotate'),
        (lambda p: PageSpec(1, 'grid', 'a4', (), {'rows': 9, 'cols': 1}), 'rows'),
    ],
)
def test_bad_specs_are_refused(sources: list[Path], build, match: str) -> None:
    with pytest.raises(Invalid, match=match):
        build(sources[0])


def test_missing_and_unreadable_images(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match='missing'):
        render_page(PageSpec(1, 'splash', 'a4', (PanelSpec(0, tmp_path / 'gone.png'),)), dpi=40)
    junk = tmp_path / 'junk.png'
    junk.write_bytes(b'not an image')
    with pytest.raises(Invalid, match='could not be read'):
        render_page(PageSpec(1, 'splash', 'a4', (PanelSpec(0, junk),)), dpi=40)
    with pytest.raises(Invalid, match='Preview width'):
        render_page(PageSpec(1, 'splash', 'a4', ()), preview_width=5)


def test_transparent_source_is_flattened_on_white(tmp_path: Path) -> None:
    src = tmp_path / 'alpha.png'
    Image.new('RGBA', (200, 300), (0, 0, 0, 0)).save(src)
    image = render_page(PageSpec(1, 'splash', 'us_comic', (PanelSpec(0, src),)), dpi=40)
    x, y, w, h = panel_rects('splash', *image.size)[0]
    assert tuple(np.asarray(image)[y + h // 2, x + w // 2]) == (255, 255, 255)
