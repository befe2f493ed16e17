"""Comic pages (J08): chapters, page templates, panels with crops, balloons as data, and the page renderer.

Used by pages/comic_pages.py and by exports (J08), which render the pages.
"""
