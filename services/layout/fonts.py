"""Which font can draw a balloon's text: the balloon font, else an installed fallback (emoji), else a clear refusal.

A font without a glyph draws an empty box, a silent wrong result on a printed page. Coverage is read from each
font's character map (fontTools, which matplotlib already brings), so text is checked before it is ever drawn.
"""

from __future__ import annotations

import logging
import unicodedata
from functools import lru_cache
from pathlib import Path

from services.errors import Invalid

log = logging.getLogger(__name__)

FONT_DIRS = (Path('/usr/share/fonts'), Path('/usr/local/share/fonts'), Path.home() / '.local/share/fonts')
# Outline fonts Pillow can draw at any size; Debian's fonts-symbola ships Symbola (Latin text and emoji)
FALLBACK_FILES = ('Symbola_hint.ttf', 'Symbola.ttf', 'NotoEmoji-Regular.ttf', 'NotoSansSymbols2-Regular.ttf')
FALLBACK_PACKAGE = 'fonts-symbola'


@lru_cache(maxsize=16)
def _coverage(path: str) -> frozenset[int]:
    from fontTools.ttLib import TTFont  # a dependency of matplotlib; loaded only when text is checked

    try:
        with TTFont(path, lazy=True) as font:
            return frozenset(font.getBestCmap() or {})
    except Exception as e:  # noqa: BLE001 - any unreadable font simply covers nothing
        log.warning('font %s cannot be read (%s); it is not used for balloons', Path(path).name, e)
        return frozenset()


@lru_cache(maxsize=1)
def fallback_fonts() -> tuple[Path, ...]:
    """Installed fallback fonts, in preference order (looked up once per process)."""
    found = []
    for name in FALLBACK_FILES:
        for root in FONT_DIRS:
            if root.is_dir():
                found += sorted(root.rglob(name))
    return tuple(dict.fromkeys(found))


def _needed(text: str) -> set[int]:
    """Code points that must have a glyph: not spaces, controls or joiners/variation selectors (drawn as nothing)."""
    return {ord(c) for c in text if not c.isspace() and unicodedata.category(c) not in ('Cc', 'Cf', 'Mn', 'Zs')}


def missing(text: str, font: Path | None) -> list[str]:
    """The characters of text that this font cannot draw, in order of first use."""
    needed = _needed(text)
    covered = frozenset(range(0x20, 0x7F)) if font is None else _coverage(str(font))  # Pillow's own font: ASCII
    return [c for c in dict.fromkeys(text) if ord(c) in needed and ord(c) not in covered]


def font_for(text: str, default: Path | None) -> Path | None:
    """The default font when it draws every character, else the first fallback that does; otherwise refuse, naming
    the characters and what would draw them."""
    lacking = missing(text, default)
    if not lacking:
        return default
    for fallback in fallback_fonts():
        if not missing(text, fallback):
            return fallback
    shown = ' '.join(f'{c} (U+{ord(c):04X})' for c in lacking[:5])
    raise Invalid(
        f'The balloon font cannot draw {shown}. Remove it from the text, or install an emoji font '
        f'(on Debian: apt-get install {FALLBACK_PACKAGE}) and try again.',
        code='balloon_glyphs',
        details={'field': 'text'},
    )
