"""Secrets service against a real SQLite file and data dir: encryption at rest, AAD binding, keys and rotation."""

from __future__ import annotations

import base64
import logging
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from models.db import SessionFactory
from models.provider import Secret
from services.errors import Invalid, NotFound, SecretError
from services.security.secrets import PREFIX, KeyRing, MasterKey, SecretStore, load_keyring, mask

VALUE = 'sk-test-Zq8fWk2LmN4pRt7vXy9a'  # distinctive, so a byte search cannot match by accident


def new_key() -> MasterKey:
    return MasterKey.from_bytes(os.urandom(32))


def b64(key: MasterKey, *, urlsafe: bool = True) -> str:
    return (base64.urlsafe_b64encode if urlsafe else base64.b64encode)(key.key).decode()


def put(sessions: SessionFactory, store: SecretStore, value: str = VALUE, **ident: str) -> str:
    ident = {'scope': 'global', 'provider': 'openai', 'name': 'api_key', **ident}
    with sessions() as s:
        return store.put(s, value=value, **ident).id


def get(sessions: SessionFactory, store: SecretStore, secret_id: str) -> str:
    with sessions() as s:
        return store.get(s, secret_id)


def checkpoint(engine: Engine) -> None:
    with engine.connect() as c:
        c.exec_driver_sql('PRAGMA wal_checkpoint(TRUNCATE)')


def files_containing(root: Path, needle: bytes) -> list[Path]:
    return [p for p in root.rglob('*') if p.is_file() and needle in p.read_bytes()]


@pytest.fixture
def key_a() -> MasterKey:
    return new_key()


@pytest.fixture
def store(key_a: MasterKey) -> SecretStore:
    return SecretStore(KeyRing(current=key_a))


def test_round_trip_upsert_and_masked_reads(sessions: SessionFactory, store: SecretStore, key_a: MasterKey) -> None:
    sid = put(sessions, store)
    assert get(sessions, store, sid) == VALUE
    with sessions() as s:
        assert store.get_by_name(s, scope='global', provider='openai', name='api_key') == VALUE
        assert store.get_by_name(s, scope='global', provider='openai', name='other') is None
        listed = store.list(s)
        row = s.get(Secret, sid)
        assert row is not None
        assert row.ciphertext.startswith(f'{PREFIX}{key_a.ref}:')
        assert row.key_ref == key_a.ref
    assert [r.masked for r in listed] == ['••••' + VALUE[-4:]]
    assert VALUE not in listed[0].model_dump_json()
    assert VALUE not in repr(listed[0])

    # Upsert: same identity keeps its id and takes the new value.
    sid2 = put(sessions, store, value='sk-replacement-value-0001')
    assert sid2 == sid
    assert get(sessions, store, sid) == 'sk-replacement-value-0001'

    put(sessions, store, value='proj-key-1234567890', scope='p1')
    with sessions() as s:
        assert len(store.list(s)) == 2
        assert [r.scope for r in store.list(s, scope='p1')] == ['p1']
        store.delete(s, sid)
    with sessions() as s, pytest.raises(NotFound):
        store.get(s, sid)
    with sessions() as s, pytest.raises(NotFound):
        store.delete(s, sid)


def test_empty_value_and_bad_identity_are_invalid(sessions: SessionFactory, store: SecretStore) -> None:
    with sessions() as s:
        for value in ('', '   '):
            with pytest.raises(Invalid):
                store.put(s, scope='global', provider='openai', name='api_key', value=value)
        with pytest.raises(Invalid):
            store.put(s, scope='global', provider='a|b', name='api_key', value=VALUE)
        with pytest.raises(Invalid):
            store.put(s, scope='', provider='openai', name='api_key', value=VALUE)
        assert store.list(s) == []


def test_plaintext_never_reaches_disk_or_logs(
    sessions: SessionFactory, store: SecretStore, engine: Engine, data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for i in range(3):
        sid = put(sessions, store, name=f'key{i}')
    put(sessions, store, name='key0', value=VALUE + '-updated')
    assert get(sessions, store, sid) == VALUE
    with sessions() as s:
        store.status(s)
        store.list(s)
    store.rotate(sessions)
    needle = VALUE.encode()
    db = data_dir / 'kroma.db'
    wal = data_dir / 'kroma.db-wal'
    assert wal.exists() and wal.stat().st_size > 0  # the WAL is checked while it still holds the writes
    for path in (db, wal):
        assert needle not in path.read_bytes()
    assert files_containing(data_dir, needle) == []
    checkpoint(engine)
    assert needle not in db.read_bytes()
    assert files_containing(data_dir, needle) == []
    assert VALUE not in caplog.text
    assert VALUE not in repr(store)


def test_same_value_gives_different_ciphertexts(sessions: SessionFactory, store: SecretStore) -> None:
    a = put(sessions, store, name='one')
    b = put(sessions, store, name='two')
    with sessions() as s:
        first = {r: s.get(Secret, r).ciphertext for r in (a, b)}  # type: ignore[union-attr]
    put(sessions, store, name='one')  # re-entering the same value also gets a fresh nonce
    with sessions() as s:
        again = s.get(Secret, a).ciphertext  # type: ignore[union-attr]
    assert len({first[a], first[b], again}) == 3
    assert get(sessions, store, a) == get(sessions, store, b) == VALUE


@pytest.mark.parametrize('move', ['scope', 'provider', 'name'])
def test_ciphertext_copied_to_another_row_fails(sessions: SessionFactory, store: SecretStore, move: str) -> None:
    src = put(sessions, store)
    other = {'scope': 'global', 'provider': 'openai', 'name': 'api_key', move: 'elsewhere'}
    dst = put(sessions, store, value='sk-victim-value-99999', **other)
    with sessions() as s:
        row_src, row_dst = s.get(Secret, src), s.get(Secret, dst)
        assert row_src is not None and row_dst is not None
        row_dst.ciphertext, row_dst.key_ref = row_src.ciphertext, row_src.key_ref
        s.add(row_dst)
    with pytest.raises(SecretError) as exc:
        get(sessions, store, dst)
    assert exc.value.code == 'secret_tampered'
    assert VALUE not in str(exc.value)
    assert get(sessions, store, src) == VALUE


def test_tampered_ciphertext_fails(sessions: SessionFactory, store: SecretStore) -> None:
    sid = put(sessions, store)
    with sessions() as s:
        row = s.get(Secret, sid)
        assert row is not None
        head, blob = row.ciphertext.rsplit(':', 1)
        raw = bytearray(base64.urlsafe_b64decode(blob + '=' * (-len(blob) % 4)))
        raw[20] ^= 0x01
        row.ciphertext = f'{head}:{base64.urlsafe_b64encode(bytes(raw)).decode()}'
        s.add(row)
    with pytest.raises(SecretError, match='integrity check'):
        get(sessions, store, sid)


def test_key_file_is_created_0600_and_reused(tmp_path: Path) -> None:
    key_file = tmp_path / 'new-home' / 'keys' / 'master.key'
    old_umask = os.umask(0)  # the mode must be 0600 whatever the umask
    try:
        ring = load_keyring(env_key=None, key_file=key_file, previous=None)
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert sorted(p.name for p in key_file.parent.iterdir()) == ['master.key']  # no temp file left behind
    again = load_keyring(env_key='', key_file=key_file, previous=None)
    assert again.current == ring.current
    assert len(ring.current.ref) == 8
    assert ring.current.key.hex() not in repr(ring)
    assert b64(ring.current) not in repr(ring)


def test_env_key_wins_and_accepts_both_alphabets(tmp_path: Path) -> None:
    key = new_key()
    key_file = tmp_path / 'master.key'
    urlsafe = load_keyring(env_key=b64(key), key_file=key_file, previous=None)
    standard = load_keyring(env_key=b64(key, urlsafe=False).rstrip('='), key_file=key_file, previous=None)
    assert urlsafe.current == standard.current == key
    assert not key_file.exists()  # a key from the environment never creates a file


@pytest.mark.parametrize(
    'env_key',
    ['not base64 at all!!', base64.b64encode(b'x' * 16).decode(), base64.b64encode(b'y' * 48).decode()],
)
def test_bad_master_key_names_the_setting_not_the_value(tmp_path: Path, env_key: str) -> None:
    with pytest.raises(SecretError) as exc:
        load_keyring(env_key=env_key, key_file=tmp_path / 'master.key', previous=None)
    assert 'KROMA_MASTER_KEY' in exc.value.user_message
    assert env_key not in exc.value.user_message


def test_bad_previous_key_and_key_file_name_their_setting(tmp_path: Path) -> None:
    good = b64(new_key())
    with pytest.raises(SecretError, match=r'KROMA_MASTER_KEY_PREVIOUS \(entry 2\)') as exc:
        load_keyring(env_key=good, key_file=tmp_path / 'k', previous=f'{b64(new_key())},short')
    assert 'short' not in exc.value.user_message
    bad_file = tmp_path / 'bad.key'
    bad_file.write_text('definitely-not-a-key\n')
    with pytest.raises(SecretError, match='KROMA_MASTER_KEY_FILE'):
        load_keyring(env_key=None, key_file=bad_file, previous=None)


def test_previous_keys_dedupe(tmp_path: Path) -> None:
    cur, old = new_key(), new_key()
    ring = load_keyring(env_key=b64(cur), key_file=tmp_path / 'k', previous=f' {b64(old)} ,,{b64(cur)},{b64(old)}')
    assert ring.current == cur
    assert ring.previous == (old,)


def test_unknown_key_ref_says_what_to_configure(sessions: SessionFactory, store: SecretStore, key_a: MasterKey) -> None:
    sid = put(sessions, store)
    with pytest.raises(SecretError) as exc:
        get(sessions, SecretStore(KeyRing(current=new_key())), sid)
    msg = exc.value.user_message
    assert f'was encrypted with key {key_a.ref}, which is not configured' in msg
    assert 'KROMA_MASTER_KEY_PREVIOUS' in msg


def test_rotation_moves_every_row_to_the_new_key(
    sessions: SessionFactory, store: SecretStore, key_a: MasterKey
) -> None:
    ids = {put(sessions, store, value=f'{VALUE}-{i}', name=f'k{i}'): f'{VALUE}-{i}' for i in range(4)}
    key_b = new_key()
    store_b = SecretStore(KeyRing(current=key_b, previous=(key_a,)))
    with sessions() as s:
        before = store_b.status(s)
    assert before['key_refs'] == [{'key_ref': key_a.ref, 'count': 4, 'is_current': False, 'configured': True}]
    assert store_b.rotate(sessions) == {'scanned': 4, 'rotated': 4, 'plaintext_reencrypted': 0, 'skipped_current': 0}
    with sessions() as s:
        after = store_b.status(s)
    assert after['current_key_ref'] == key_b.ref
    assert after['key_refs'] == [{'key_ref': key_b.ref, 'count': 4, 'is_current': True, 'configured': True}]
    only_b = SecretStore(KeyRing(current=key_b))
    assert {sid: get(sessions, only_b, sid) for sid in ids} == ids
    assert only_b.rotate(sessions) == {'scanned': 4, 'rotated': 0, 'plaintext_reencrypted': 0, 'skipped_current': 4}


def test_interrupted_rotation_is_safe_to_rerun(sessions: SessionFactory, store: SecretStore, key_a: MasterKey) -> None:
    ids = {put(sessions, store, value=f'{VALUE}-{i}', name=f'k{i}'): f'{VALUE}-{i}' for i in range(3)}
    key_b = new_key()
    store_b = SecretStore(KeyRing(current=key_b, previous=(key_a,)))
    calls = 0

    @contextmanager
    def crashing() -> Iterator[Session]:
        """Scan (call 1) and the first row (call 2) commit; the process 'dies' when the second row starts."""
        nonlocal calls
        calls += 1
        if calls == 3:
            raise RuntimeError('simulated crash')
        with sessions() as s:
            yield s

    with pytest.raises(RuntimeError, match='simulated crash'):
        store_b.rotate(crashing)
    with sessions() as s:
        mid = {r['key_ref']: r['count'] for r in store_b.status(s)['key_refs']}
    assert mid == {key_b.ref: 1, key_a.ref: 2}
    assert {sid: get(sessions, store_b, sid) for sid in ids} == ids  # every row still readable mid-way
    assert store_b.rotate(sessions) == {'scanned': 3, 'rotated': 2, 'plaintext_reencrypted': 0, 'skipped_current': 1}
    only_b = SecretStore(KeyRing(current=key_b))
    assert {sid: get(sessions, only_b, sid) for sid in ids} == ids


def test_rotation_without_the_old_key_reports_it_and_leaves_rows(
    sessions: SessionFactory, store: SecretStore, key_a: MasterKey
) -> None:
    sid = put(sessions, store)
    only_b = SecretStore(KeyRing(current=new_key()))
    with pytest.raises(SecretError) as exc:
        only_b.rotate(sessions)
    assert exc.value.code == 'secret_rotation_incomplete'
    assert exc.value.details['missing_key_refs'] == [key_a.ref]
    assert 'KROMA_MASTER_KEY_PREVIOUS' in exc.value.user_message
    assert get(sessions, store, sid) == VALUE  # untouched, still on key A
    with sessions() as s:
        assert only_b.status(s)['key_refs'][0]['configured'] is False


def test_legacy_plaintext_rows_are_counted_and_reencrypted(
    sessions: SessionFactory, store: SecretStore, engine: Engine, data_dir: Path
) -> None:
    legacy = 'legacy-plaintext-Hq3Vd8'
    put(sessions, store)
    with sessions() as s:
        row = Secret(scope='global', provider='agent_api', name='token', ciphertext=legacy, key_ref='local-master')
        s.add(row)
        s.flush()
        lid = row.id
    with sessions() as s:
        st = store.status(s)
    assert (st['total'], st['encrypted'], st['plaintext']) == (2, 1, 1)
    assert get(sessions, store, lid) == legacy  # still usable before rotation
    assert store.rotate(sessions) == {'scanned': 2, 'rotated': 1, 'plaintext_reencrypted': 1, 'skipped_current': 1}
    with sessions() as s:
        st = store.status(s)
        row = s.get(Secret, lid)
        assert row is not None and row.ciphertext.startswith(PREFIX)
    assert (st['encrypted'], st['plaintext']) == (2, 0)
    assert get(sessions, store, lid) == legacy
    checkpoint(engine)
    assert legacy.encode() not in (data_dir / 'kroma.db').read_bytes()


def test_mask_shows_at_most_the_last_four(sessions: SessionFactory, store: SecretStore) -> None:
    assert mask('') == '••••'
    assert mask('wxyz') == '••••wxyz'
    assert mask('abcdefgh') == '••••efgh'
    put(sessions, store, value='short-val', name='short')  # under 12 characters: no hint at all
    put(sessions, store, value='long-value-ABCD', name='long')
    with sessions() as s:
        masked = {r.name: r.masked for r in store.list(s)}
    assert masked == {'short': '••••', 'long': '••••ABCD'}
