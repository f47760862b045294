"""The message bus: routes each command to its handler with the dependencies it asks for."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from veinline.domain.errors import NotAllowed
from veinline.domain.events import Event
from veinline.domain.user import User
from veinline.services import (
    auth,
    authority,
    batch_record,
    bounds,
    commands,
    followup,
    handlers,
    journey,
    labels,
    msc,
    places,
    planning,
    processes,
    release,
    specifications,
    trials,
)
from veinline.services.unit_of_work import AbstractUnitOfWork, Claim

Handler = Callable[..., Any]

HANDLERS: dict[type[commands.Command], Handler] = {
    commands.CreateUser: handlers.create_user,
    commands.SetPassword: handlers.set_password,
    commands.ChangePassword: handlers.change_password,
    commands.DeactivateUser: handlers.deactivate_user,
    commands.GrantSite: handlers.grant_site,
    commands.RevokeSite: handlers.revoke_site,
    commands.LoadCatalogue: handlers.load_catalogue,
    commands.SetProductField: handlers.set_product_field,
    commands.IssueIdentifier: handlers.issue_identifier,
    commands.SignRecord: handlers.sign_record,
    **journey.HANDLERS,
    **processes.HANDLERS,
    **specifications.HANDLERS,
    **batch_record.HANDLERS,
    **release.HANDLERS,
    **followup.HANDLERS,
    **trials.HANDLERS,
    **planning.HANDLERS,
    **labels.HANDLERS,
    **msc.HANDLERS,
}


# What follows from an event, handled in the unit of work that emitted it, before commit.
EVENT_HANDLERS: dict[type[Event], list[Handler]] = dict(journey.EVENT_HANDLERS)


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
        for command_class in self._handlers:
            bounds.bounds_of(command_class)  # every field's bound resolves, or no start

    def handle(self, cmd: commands.Command, *, actor: User, claim: Claim | None = None) -> Any:
        """Run the command's handler; with a `claim`, its commit also claims the request's
        Idempotency-Key (services/idempotency.py)."""
        handler = self._handlers.get(type(cmd))
        if handler is None:
            raise LookupError(f"no handler for {type(cmd).__name__}")
        # Input is bounded here, once, before authority or any handler sees it
        # (services.bounds): nothing out of bounds reaches a transaction.
        bounds.check(cmd)
        uow = self.uow_factory()
        uow.claim = claim
        uow.publish = lambda event, in_uow: self._publish(event, in_uow, actor)
        try:
            # The handler's own transaction: the record the command names is read (a
            # case under the lock its handler takes) and authority is decided on it
            # here, once, before the handler runs (services.authority), at the sites of
            # that record (services.places); the handler's `with uow:` joins it, so the
            # record is read once.
            with uow:
                authority.check(actor, cmd, self._where(uow, cmd))
                return handler(cmd, uow, actor=actor, **self._deps(handler))
        except auth.WrongPassword as refused:
            # The handler's transaction has rolled back; the wrong password (a signature's
            # or a password change's) is counted and ledgered in one of its own, so it is
            # never lost (11.300(d)).
            guard = auth.record_failure(
                self.uow_factory(),
                refused.username,
                refused.action,
                clock=uow.clock,
                reason=f"{type(cmd).__name__}: {refused.message}",
                actor=actor,
            )
            if guard.is_locked(uow.clock()):
                raise NotAllowed(guard.refusal()) from refused
            raise

    def _where(self, uow: AbstractUnitOfWork, cmd: commands.Command) -> authority.Where | None:
        if authority.rule_for(cmd).scope is not authority.Scope.RECORD:
            return None
        return places.where(uow, cmd)

    def _publish(self, event: Event, uow: AbstractUnitOfWork, actor: User) -> None:
        handlers_of_event = EVENT_HANDLERS.get(type(event))
        if not handlers_of_event:
            raise LookupError(f"nothing handles {type(event).__name__}")
        for handler in handlers_of_event:
            handler(event, uow, actor=actor, **self._deps(handler))

    def _deps(self, handler: Handler) -> dict[str, Any]:
        wanted = inspect.signature(handler).parameters
        return {name: dep for name, dep in self.dependencies.items() if name in wanted}
