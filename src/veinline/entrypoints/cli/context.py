"""What every command shares: the bootstrapped application (built once, on first use),
the user the command acts as, and the output helpers.

`cli_context()` gives the one `CliContext` of the process; the root callback in `main`
sets the acting user. Commands that change a record go through `CliContext.handle`, so
the bus checks authority and writes the ledger entry in the same transaction.
Exit codes: 0 done, 1 a check failed, 2 bad input or a refused request.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, NoReturn

import typer

from veinline.domain.errors import DomainError
from veinline.domain.user import SYSTEM_USERNAME

if TYPE_CHECKING:
    from rich.console import Console

    from veinline.bootstrap import App
    from veinline.services import commands


# A signature's password for scripted runs (the README's test, a demo script), read
# instead of the prompt; the user name is still the one --as gives. Never set it on a
# shared machine: whoever can read the environment can sign as that user.
PASSWORD_VARIABLE = "VEINLINE_PASSWORD"  # noqa: S105 - the variable's name, not a password


@dataclass
class CliContext:
    """The application, the acting user and the consoles of one command-line process."""

    acting_user: str = SYSTEM_USERNAME
    built: App | None = None

    # The consoles are made on first use: a command that prints only JSON (or nothing)
    # never imports Rich.
    @cached_property
    def out(self) -> Console:
        from rich.console import Console

        return Console(soft_wrap=True)

    @cached_property
    def err(self) -> Console:
        from rich.console import Console

        return Console(stderr=True, soft_wrap=True)

    def app(self, migrate: str = "auto") -> App:
        """The bootstrapped application, built on first use (migrating as asked)."""
        # Imported here so the commands that need no database (isbt, grade) start quickly.
        from veinline.bootstrap import bootstrap

        if self.built is None:
            self.say_where_new()
            with self.friendly_errors():
                self.built = bootstrap(migrate=migrate)
        return self.built

    def say_where_new(self) -> None:
        """Say on stderr which embedded database is about to be made, when there is none
        yet: a mistyped VEINLINE_DATA_DIR never makes an empty database silently."""
        from veinline.config import Settings

        found = Settings.from_env().embedded_file
        if found is not None and not found.exists():
            self.err.print(
                f"veinline: creating a new, empty database at {found.resolve()} "
                "(VEINLINE_DATA_DIR or VEINLINE_DATABASE_URL choose another); "
                "load the catalogue and demo with `veinline demo load`",
                highlight=False,
            )

    def act_as(self, username: str) -> None:
        """Act as this user from now on (signing commands act as the signer)."""
        self.acting_user = username

    def signer(self) -> tuple[str, str]:
        """The signer's user name and password, both given at each signing (21 CFR
        11.200(a)): with `--as` (or VEINLINE_USER) the name is the one given there and
        only the password is asked (or read from VEINLINE_PASSWORD); without it, both are
        asked. The command then acts as the signer."""
        if self.acting_user != SYSTEM_USERNAME:
            username = self.acting_user
            self.err.print(f"signing as {username}", highlight=False)
        else:
            username = typer.prompt("user name (to sign)").strip().lower()
            self.act_as(username)
        password = os.environ.get(PASSWORD_VARIABLE) or typer.prompt(
            f"password of {username}", hide_input=True, err=True
        )
        return username, password

    def handle(self, cmd: commands.Command) -> Any:
        """Hand a command to the bus as the acting user; a refusal exits 2."""
        application = self.app()
        with self.friendly_errors():
            actor = application.user(self.acting_user)
            return application.bus.handle(cmd, actor=actor)

    def fail(self, message: str, code: int = 2) -> NoReturn:
        self.err.print(f"[bold red]error:[/] {message}", highlight=False)
        raise typer.Exit(code)

    @contextmanager
    def friendly_errors(self) -> Iterator[None]:
        """Turn refusals the user can cause into a message and exit code 2."""
        try:
            yield
        except DomainError as exc:
            self.fail(exc.message)

    def print_json(self, data: object) -> None:
        sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")

    def forget(self) -> None:
        """Drop the application (closing its connections) and act as `system` again."""
        if self.built is not None:
            self.built.close()
        self.built = None
        self.acting_user = SYSTEM_USERNAME


_CONTEXT = CliContext()


def cli_context() -> CliContext:
    """The context of this process."""
    return _CONTEXT
