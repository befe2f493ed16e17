"""The demo project is real: scenes, style sheets and characters whose reference images show faces."""

from __future__ import annotations

import dlib
import numpy as np
from PIL import Image

from services.projects import assets, projects
from services.projects.assets import AssetFilter, AssetStore
from services.projects.demo import ensure_demo
from services.references import characters, scenes


def test_demo_has_real_images_with_faces(sessions, data_dir) -> None:
    store = AssetStore(data_dir)
    assert ensure_demo(sessions, store) is True
    assert ensure_demo(sessions, store) is False
    detector = dlib.get_frontal_face_detector()
    with sessions() as s:
        p = projects.get_project(s, 'demo')
        assert len(scenes.list_scenes(s, p.id)) >= 3
        assert assets.list_assets(s, p.id, AssetFilter(kind='style')).total >= 1
        chars = characters.list_characters(s, p.id)
        assert len(chars) == 2
        for c in chars:
            assert len(c.reference_asset_ids) >= 2
            for asset_id in c.reference_asset_ids:
                a = assets.get_asset(s, p.id, asset_id)
                pixels = np.asarray(Image.open(store.path_of(p, a)).convert('RGB'))
                assert len(detector(pixels, 1)) == 1, f'{c.name}: no face found in {a.original_name}'
