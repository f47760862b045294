"""Settings, read from the environment when bootstrap asks (never at import)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


def default_data_dir(env: Mapping[str, str] | None = None) -> Path:
    """Where the embedded database lives when VEINLINE_DATA_DIR does not say: the
    repository's own `data/` folder when veinline runs from a checkout (so the folder a
    command is typed in does not matter), else the user's data folder
    ($XDG_DATA_HOME/veinline, ~/.local/share/veinline)."""
    env = os.environ if env is None else env
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "pyproject.toml").is_file() and (checkout / "src" / "veinline").is_dir():
        return checkout / "data"
    base = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "veinline"


@dataclass(frozen=True)
class Settings:
    """Where the data lives and how the server listens."""

    database_url: str
    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 8000
    # Mark cookies Secure even when the request reached veinline over plain HTTP (behind
    # a proxy that ends TLS); a request made over HTTPS gets Secure cookies anyway.
    secure_cookies: bool = False
    # Threads of this process's job runner (services/jobs.py): sweeps and plans run there.
    job_threads: int = 1

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        given = env.get("VEINLINE_DATA_DIR")
        data_dir = Path(given) if given else default_data_dir(env)
        url = env.get("VEINLINE_DATABASE_URL") or f"sqlite:///{data_dir / 'veinline.db'}"
        return cls(
            database_url=url,
            data_dir=data_dir,
            host=env.get("VEINLINE_HOST", "127.0.0.1"),
            port=int(env.get("VEINLINE_PORT", "8000")),
            secure_cookies=env.get("VEINLINE_SECURE_COOKIES", "").lower() in {"1", "true", "yes"},
            job_threads=max(1, int(env.get("VEINLINE_JOB_THREADS", "1"))),
        )

    @property
    def is_embedded(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def embedded_file(self) -> Path | None:
        """The embedded database's file (None for PostgreSQL or an in-memory database)."""
        if not self.is_embedded:
            return None
        path = self.database_url.split("///", 1)[-1]
        return Path(path) if path and path != ":memory:" else None
