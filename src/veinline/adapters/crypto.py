"""Patient data at rest: the keyring that seals personal values and digests them.

docs/security.md, "Patient data at rest". Three keys, from the environment:

- `VEINLINE_DATA_KEY`: `<key id>:<base64 of 32 bytes>`, the AES-256-GCM key that seals
  every personal value written now (`cryptography`'s AESGCM, NIST SP 800-38D);
- `VEINLINE_DATA_KEY_OLD`: the key before it, still opened during a rotation
  (`veinline db rotate-key` re-seals every value under the current key);
- `VEINLINE_DIGEST_KEY`: base64 of 32 bytes, the HMAC-SHA256 key (RFC 2104) of the
  lookup columns (a wristband's hash) and of the ledger's digests of personal data.

A sealed value is text: `v1:<key id>:<base64(nonce | ciphertext | tag)>`, a random
96-bit nonce per value, and the column's name as associated data, so a value copied
into another column does not open.

For the embedded SQLite database, with no keys in the environment, the keys live in
a file `veinline.keys` (mode 0600) beside the database, written on first use; a
PostgreSQL database never starts without keys in the environment.

The keyring travels with the engine (`attach`): the column types of `adapters/orm.py`
find it on the dialect they are given, so two engines may hold two keyrings.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import secrets
import sqlite3
from collections.abc import Mapping
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Dialect, Engine
from sqlalchemy.engine import make_url

from veinline.domain.errors import DomainError

DATA_KEY = "VEINLINE_DATA_KEY"
DATA_KEY_OLD = "VEINLINE_DATA_KEY_OLD"
DIGEST_KEY = "VEINLINE_DIGEST_KEY"
KEY_FILE_NAME = "veinline.keys"

VERSION = "v1"
_KEY_BYTES = 32
_NONCE_BYTES = 12
_KEY_ID = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")
_ATTRIBUTE = "veinline_keyring"


class KeyProblem(DomainError):
    """A key that is missing, malformed or not the one a value was sealed under."""

    code = "data_keys"


class KeysMissing(KeyProblem):
    """No keys where this database needs them."""


@dataclass(frozen=True)
class DataKey:
    """One AES-256-GCM key and the id that sealed values name it by."""

    key_id: str
    secret: bytes = b""

    def __post_init__(self) -> None:
        if not _KEY_ID.match(self.key_id):
            raise KeyProblem(
                f"a key id has 1 to 40 letters, digits, '.', '_' or '-', not {self.key_id!r}"
            )
        if len(self.secret) != _KEY_BYTES:
            raise KeyProblem(f"key {self.key_id} is {len(self.secret)} bytes, not {_KEY_BYTES}")

    def text(self) -> str:
        """The key as the environment holds it: `<key id>:<base64>`."""
        return f"{self.key_id}:{base64.b64encode(self.secret).decode()}"

    def __repr__(self) -> str:  # never print a secret
        return f"DataKey({self.key_id!r})"


def new_data_key(key_id: str | None = None) -> DataKey:
    """A fresh random key; its id is the date and a random suffix unless given."""
    key_id = key_id or f"k{datetime.now(UTC):%Y%m%d}-{secrets.token_hex(3)}"
    return DataKey(key_id, secrets.token_bytes(_KEY_BYTES))


def new_digest_key() -> str:
    return base64.b64encode(secrets.token_bytes(_KEY_BYTES)).decode()


def parse_data_key(text: str, name: str = DATA_KEY) -> DataKey:
    key_id, sep, encoded = text.strip().partition(":")
    if not sep:
        raise KeyProblem(
            f"{name} must be '<key id>:<base64 of 32 bytes>' (see `veinline db generate-key`)"
        )
    return DataKey(key_id, _decode(encoded, name))


def _decode(encoded: str, name: str) -> bytes:
    try:
        raw = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise KeyProblem(f"{name} is not valid base64") from None
    if len(raw) != _KEY_BYTES:
        raise KeyProblem(f"{name} must hold {_KEY_BYTES} bytes, not {len(raw)}")
    return raw


class Keyring:
    """The current data key (seals), older keys (open only) and the digest key."""

    def __init__(self, current: DataKey, digest_key: bytes, old: tuple[DataKey, ...] = ()) -> None:
        if len(digest_key) != _KEY_BYTES:
            raise KeyProblem(f"{DIGEST_KEY} must hold {_KEY_BYTES} bytes")
        self.current = current
        self.old = tuple(k for k in old if k.key_id != current.key_id)
        self._keys = {k.key_id: k for k in (*self.old, current)}
        self._digest_key = digest_key
        self._aead = {k.key_id: AESGCM(k.secret) for k in self._keys.values()}

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Keyring:
        if not env.get(DATA_KEY):
            raise KeysMissing(f"{DATA_KEY} is not set")
        if not env.get(DIGEST_KEY):
            raise KeysMissing(f"{DATA_KEY} is set but {DIGEST_KEY} is not: set both")
        current = parse_data_key(env[DATA_KEY])
        old = (parse_data_key(env[DATA_KEY_OLD], DATA_KEY_OLD),) if env.get(DATA_KEY_OLD) else ()
        return cls(current, _decode(env[DIGEST_KEY], DIGEST_KEY), old)

    @classmethod
    def generate(cls) -> Keyring:
        """A throwaway keyring (an in-memory database keeps nothing to open later)."""
        return cls(new_data_key(), secrets.token_bytes(_KEY_BYTES))

    def __repr__(self) -> str:
        return f"Keyring(current={self.current.key_id!r}, old={[k.key_id for k in self.old]})"

    # ------------------------------------------------------------ sealing

    def seal(self, plain: str, context: str) -> str:
        nonce = secrets.token_bytes(_NONCE_BYTES)
        sealed = self._aead[self.current.key_id].encrypt(
            nonce, plain.encode("utf-8"), context.encode()
        )
        body = base64.b64encode(nonce + sealed).decode()
        return f"{VERSION}:{self.current.key_id}:{body}"

    def open(self, token: str, context: str) -> str:
        version, key_id, body = _parts(token, context)
        if version != VERSION:
            raise KeyProblem(f"a value in {context} is sealed in an unknown form {version!r}")
        aead = self._aead.get(key_id)
        if aead is None:
            raise KeyProblem(
                f"a value in {context} is sealed under key {key_id!r}, which is neither "
                f"{DATA_KEY} ({self.current.key_id}) nor {DATA_KEY_OLD}: set the key it "
                "was sealed with as VEINLINE_DATA_KEY_OLD"
            )
        try:
            raw = base64.b64decode(body, validate=True)
            plain = aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], context.encode())
        except (InvalidTag, binascii.Error, ValueError):
            raise KeyProblem(
                f"a value in {context} does not open under key {key_id!r}: it was altered, "
                "moved from another column, or the key is not the one it was sealed with"
            ) from None
        return plain.decode("utf-8")

    def is_current(self, token: str) -> bool:
        return key_id_of(token) == self.current.key_id

    # ------------------------------------------------------------ digests

    def digest(self, data: bytes) -> str:
        """HMAC-SHA256 under the digest key, as hex."""
        return hmac.new(self._digest_key, data, hashlib.sha256).hexdigest()

    def lookup(self, kind: str, value: str) -> str:
        """The lookup hash of a value (a wristband id): the same value, the same hash, in
        every record, so it can be searched without being stored."""
        return self.digest(f"lookup\x1f{kind}\x1f{value}".encode())


def _parts(token: str, context: str) -> tuple[str, str, str]:
    parts = token.split(":", 2)
    if len(parts) != 3:
        raise KeyProblem(f"a value in {context} is not sealed (it is stored in clear)")
    return parts[0], parts[1], parts[2]


def key_id_of(token: str) -> str | None:
    """The id of the key a sealed value names, or None for a value that is not sealed."""
    parts = token.split(":", 2)
    return parts[1] if len(parts) == 3 and parts[0] == VERSION else None


def is_sealed(value: object) -> bool:
    return isinstance(value, str) and key_id_of(value) is not None


# ---------------------------------------------------------------- where the keys come from


def key_file_for(database_url: str) -> Path | None:
    """`veinline.keys` beside an SQLite database file; None for PostgreSQL or memory."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database
    if not database or database == ":memory:" or database.startswith("file::memory:"):
        return None
    return Path(database).parent / KEY_FILE_NAME


def load_keyring(
    database_url: str, env: Mapping[str, str] | None = None, *, create: bool = True
) -> Keyring:
    """The keyring for a database: from the environment when it names a data key; else,
    for an SQLite file, from `veinline.keys` beside it (written on first use; with
    `create=False`, as a restore asks, throwaway keys instead and no file); an
    in-memory SQLite gets throwaway keys; PostgreSQL without keys is refused."""
    env = os.environ if env is None else env
    if env.get(DATA_KEY):
        return Keyring.from_env(env)
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        raise KeysMissing(
            f"{DATA_KEY} and {DIGEST_KEY} are not set: a PostgreSQL database holds patient "
            "data sealed under them, and veinline does not start without them. Make them "
            "with `veinline db generate-key` and keep them in your secret store "
            "(docs/security.md, 'Patient data at rest')"
        )
    path = key_file_for(database_url)
    if path is None or (not create and not path.exists()):
        return Keyring.generate()
    if not path.exists():
        database = Path(str(url.database))
        if _holds_sealed_data(database):
            raise KeysMissing(
                f"{database} holds sealed patient data but its key file {path} is missing: "
                f"restore {KEY_FILE_NAME} from its backup (or set {DATA_KEY} and "
                f"{DIGEST_KEY}); a new key would not open it"
            )
        write_key_file(path, new_data_key(), new_digest_key())
    return Keyring.from_env(read_key_file(path))


def _holds_sealed_data(database: Path) -> bool:
    """Whether an SQLite file is at a schema that seals patient data (it has
    cases.wristband_hash, added with the sealing); read-only, without SQLAlchemy."""
    if not database.exists() or database.stat().st_size == 0:
        return False
    with closing(sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True)) as conn:
        try:
            columns = [row[1] for row in conn.execute("PRAGMA table_info(cases)")]
        except sqlite3.DatabaseError:
            return False
    return "wristband_hash" in columns


_KEY_FILE_HEADER = """\
# veinline's data keys for the SQLite database beside this file
# (docs/security.md, "Patient data at rest"). Without this file the patient data in
# the database cannot be read: back it up, apart from the database backups.
"""


def write_key_file(path: Path, current: DataKey, digest: str, old: DataKey | None = None) -> None:
    """Write the key file (0600), replacing it atomically."""
    lines = [_KEY_FILE_HEADER, f"{DATA_KEY}={current.text()}\n"]
    if old is not None:
        lines.append(f"{DATA_KEY_OLD}={old.text()}\n")
    lines.append(f"{DIGEST_KEY}={digest}\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write("".join(lines))
        f.flush()
        os.fsync(f.fileno())
    os.chmod(partial, 0o600)
    os.replace(partial, path)


def read_key_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        if not sep:
            raise KeyProblem(f"{path} has a line that is not NAME=value")
        values[name.strip()] = value.strip()
    return values


# ---------------------------------------------------------------- the engine's keyring


def attach(engine: Engine, keyring: Keyring) -> None:
    """Give the engine its keyring: the sealed columns find it on the engine's dialect."""
    setattr(engine.dialect, _ATTRIBUTE, keyring)


def keyring_of(dialect: Dialect) -> Keyring:
    keyring = getattr(dialect, _ATTRIBUTE, None)
    if not isinstance(keyring, Keyring):
        raise KeysMissing("this database engine has no keyring: build it with bootstrap()")
    return keyring
