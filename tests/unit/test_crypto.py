"""The keyring (adapters/crypto.py): sealing, opening, rotation's old key, digests, and
where the keys come from (docs/security.md, "Patient data at rest")."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import pytest

from veinline.adapters import crypto
from veinline.adapters.crypto import DataKey, KeyProblem, Keyring, KeysMissing

DIGEST = b"d" * 32


def _ring(key_id: str = "k1", old: tuple[DataKey, ...] = ()) -> Keyring:
    return Keyring(DataKey(key_id, key_id.encode().ljust(32, b"x")), DIGEST, old)


def test_a_sealed_value_names_its_key_hides_the_text_and_opens_again() -> None:
    ring = _ring()
    sealed = ring.seal("Zelda Quixote", "cases.patient_name")
    assert sealed.startswith("v1:k1:") and "Zelda" not in sealed
    assert ring.open(sealed, "cases.patient_name") == "Zelda Quixote"
    # A random nonce per value: the same name never seals to the same text twice.
    assert ring.seal("Zelda Quixote", "cases.patient_name") != sealed
    assert crypto.is_sealed(sealed) and not crypto.is_sealed("Zelda Quixote")


def test_a_value_does_not_open_in_another_column_or_when_altered() -> None:
    ring = _ring()
    sealed = ring.seal("WB-1", "cases.wristband_id")
    with pytest.raises(KeyProblem, match="moved from another column"):
        ring.open(sealed, "cases.patient_name")
    tampered = sealed[:-4] + ("AAAA" if not sealed.endswith("AAAA") else "BBBB")
    with pytest.raises(KeyProblem, match="altered"):
        ring.open(tampered, "cases.wristband_id")
    with pytest.raises(KeyProblem, match="in clear"):
        ring.open("WB-1", "cases.wristband_id")


def test_the_old_key_opens_during_rotation_and_an_unknown_key_is_named() -> None:
    old = _ring("k1")
    sealed = old.seal("1964-11-23", "cases.patient_facts")
    rotating = _ring("k2", old=(old.current,))
    assert rotating.open(sealed, "cases.patient_facts") == "1964-11-23"
    assert not rotating.is_current(sealed)
    assert rotating.is_current(rotating.seal("x", "c"))
    with pytest.raises(KeyProblem, match=r"under key 'k1'.*VEINLINE_DATA_KEY_OLD"):
        _ring("k2").open(sealed, "cases.patient_facts")


def test_digests_are_keyed_and_lookups_ignore_nothing_but_the_key() -> None:
    ring = _ring()
    assert ring.lookup("wristband", "WB-1") == _ring("k9").lookup("wristband", "WB-1")
    assert ring.lookup("wristband", "WB-1") != ring.lookup("wristband", "WB-2")
    other = Keyring(ring.current, b"e" * 32)
    assert other.lookup("wristband", "WB-1") != ring.lookup("wristband", "WB-1")
    assert len(ring.digest(b"x")) == 64


def test_keys_are_read_from_the_environment_and_refused_when_malformed() -> None:
    key = crypto.new_data_key("prod-2026")
    digest = crypto.new_digest_key()
    ring = Keyring.from_env({crypto.DATA_KEY: key.text(), crypto.DIGEST_KEY: digest})
    assert ring.current.key_id == "prod-2026"
    assert key.secret.hex() not in repr(ring) and key.secret.hex() not in repr(key)
    with pytest.raises(KeysMissing, match="VEINLINE_DIGEST_KEY is not"):
        Keyring.from_env({crypto.DATA_KEY: key.text()})
    with pytest.raises(KeyProblem, match="key id"):
        crypto.parse_data_key("bad id!:" + key.text().split(":")[1])
    with pytest.raises(KeyProblem, match="32 bytes"):
        crypto.parse_data_key("k:" + "QUJD")
    with pytest.raises(KeyProblem, match="<key id>:"):
        crypto.parse_data_key(key.text().split(":")[1])


def test_postgresql_does_not_start_without_keys_in_the_environment() -> None:
    with pytest.raises(KeysMissing, match=r"PostgreSQL.*generate-key"):
        crypto.load_keyring("postgresql+psycopg://postgres@localhost/veinline", env={})


def test_an_sqlite_file_gets_its_key_file_on_first_use_and_reads_it_after(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'data' / 'veinline.db'}"
    first = crypto.load_keyring(url, env={})
    path = tmp_path / "data" / crypto.KEY_FILE_NAME
    assert path.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "back it up" in path.read_text()
    again = crypto.load_keyring(url, env={})
    assert again.current == first.current
    assert again.open(first.seal("x", "c"), "c") == "x"
    # Keys in the environment win over the file.
    key = crypto.new_data_key("from-env")
    env = {crypto.DATA_KEY: key.text(), crypto.DIGEST_KEY: crypto.new_digest_key()}
    assert crypto.load_keyring(url, env=env).current.key_id == "from-env"
    # An in-memory database keeps nothing: throwaway keys, no file.
    assert crypto.key_file_for("sqlite://") is None
    assert crypto.load_keyring("sqlite://", env={}).current.key_id


def test_a_sealed_sqlite_database_without_its_key_file_is_refused_not_given_new_keys(
    tmp_path: Path,
) -> None:
    database = tmp_path / "veinline.db"
    with sqlite3.connect(database) as conn:
        conn.execute("CREATE TABLE cases (id TEXT, wristband_hash TEXT)")
    url = f"sqlite:///{database}"
    with pytest.raises(KeysMissing, match=r"restore veinline\.keys"):
        crypto.load_keyring(url, env={})
    assert not (tmp_path / crypto.KEY_FILE_NAME).exists()
    # A database from before the sealing (no wristband_hash yet) gets its first keys.
    older = tmp_path / "older"
    older.mkdir()
    with sqlite3.connect(older / "veinline.db") as conn:
        conn.execute("CREATE TABLE cases (id TEXT, patient_name TEXT)")
    crypto.load_keyring(f"sqlite:///{older / 'veinline.db'}", env={}, create=False)
    assert not (older / crypto.KEY_FILE_NAME).exists()  # a restore writes no key file
    crypto.load_keyring(f"sqlite:///{older / 'veinline.db'}", env={})
    assert (older / crypto.KEY_FILE_NAME).exists()
