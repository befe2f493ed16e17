"""The one-piece multipart encoder: what a standard parser reads back is exactly what was sent."""

from __future__ import annotations

from services.providers.multipart import encode_multipart
from tests.fakes.loopback import parse_multipart


def test_fields_and_files_round_trip_through_a_standard_parser() -> None:
    png = b'\x89PNG\r\n\x1a\n' + bytes(range(256)) * 40  # binary, with CRLFs and dashes inside
    body, content_type = encode_multipart(
        {'model': 'gpt-image-2', 'prompt': 'a "quoted"\nprompt — with ünïcode'},
        [('image[]', '00_scene_launch.png', png, 'image/png'), ('image[]', 'b"ad\r\nname.png', b'x', 'image/png')],
    )
    assert content_type.startswith('multipart/form-data; boundary=')
    fields, files = parse_multipart(content_type, body)
    assert fields == {'model': 'gpt-image-2', 'prompt': 'a "quoted"\nprompt — with ünïcode'}
    assert [(f['field'], f['filename'], f['data'], f['content_type']) for f in files] == [
        ('image[]', '00_scene_launch.png', png, 'image/png'),
        ('image[]', 'b%22ad%0D%0Aname.png', b'x', 'image/png'),  # a name can never break the header
    ]


def test_each_body_gets_its_own_boundary() -> None:
    assert encode_multipart({'a': '1'})[1] != encode_multipart({'a': '1'})[1]
