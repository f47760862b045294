"""The message bus: routes each command to its handler with the dependencies it asks for."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from veinline.domain.user import User
from veinline.services import (
    authority,
    commands,
    followup,
    handlers,
    journey,
    manufacturing,
    planning,
    trials,
)
from veinline.services.unit_of_work import AbstractUnitOfWork

Handler = Callable[..., Any]

HANDLERS: dict[type[commands.Command], Handler] = {
    commands.CreateUser: handlers.create_user,
    commands.SetPassword: handlers.set_password,
    commands.LoadCatalogue: handlers.load_catalogue,
    commands.SetProductField: handlers.set_product_field,
    commands.IssueIdentifier: handlers.issue_identifier,
    commands.SignRecord: handlers.sign_record,
    **journey.HANDLERS,
    **manufacturing.HANDLERS,
    **followup.HANDLERS,
    **trials.HANDLERS,
    **planning.HANDLERS,
}


class MessageBus:
    """Hands a command to its handler, with a fresh unit of work and the acting user."""

    def __init__(
        self,
        uow_factory: Callable[[], AbstractUnitOfWork],
        dependencies: dict[str, Any],
        handlers_by_command: dict[type[commands.Command], Handler] | None = None,
    ) -> None:
        self.uow_factory = uow_factory
        self.dependencies = dependencies
        self._handlers = dict(handlers_by_command or HANDLERS)
        unruled = authority.uncovered_commands(self._handlers)
        if unruled:
            raise LookupError(f"the authority table has no rule for {', '.join(unruled)}")

    def handle(self, cmd: commands.Command, *, actor: User) -> Any:
        handler = self._handlers.get(type(cmd))
        if handler is None:
            raise LookupError(f"no handler for {type(cmd).__name__}")
        # Authority is decided here, once, before any handler runs (services.authority).
        authority.check(actor, cmd)
        wanted = inspect.signature(handler).parameters
        deps = {name: dep for name, dep in self.dependencies.items() if name in wanted}
        return handler(cmd, self.uow_factory(), actor=actor, **deps)
