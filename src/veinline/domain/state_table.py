"""State tables: the one primitive every state machine in veinline is written with.

A table maps each action to its arrow: the states it may be fired from and the state it
leads to (or none, when the action is recorded without moving the state). A table holds
state only: who may fire an action is the authority table's business
(`veinline.services.authority`), and what else must be true is a guard named
`guard_<action>` beside the aggregate. See docs/architecture.md, "State tables".

21 CFR 11.10(f): operational system checks enforce the permitted sequencing of steps.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

from veinline.domain.errors import NotAllowed

S = TypeVar("S", bound=StrEnum)
A = TypeVar("A", bound=StrEnum)


@dataclass(frozen=True)
class Arrow(Generic[S]):
    """One row of a state table: from which states an action may be fired, and to which."""

    sources: frozenset[S]
    target: S | None = None

    def lands(self, state: S) -> S:
        """The state after firing from `state` (the same state for a recording action)."""
        return state if self.target is None else self.target


def arrow(sources: Iterable[S], target: S | None = None) -> Arrow[S]:
    return Arrow(frozenset(sources), target)


class StateTable(Mapping[A, Arrow[S]]):
    """Every action of one aggregate with its arrow; refuses a table missing an action."""

    def __init__(self, name: str, actions: type[A], arrows: Mapping[A, Arrow[S]]) -> None:
        missing = [a.value for a in actions if a not in arrows]
        if missing:
            raise ValueError(f"the {name} state table has no arrow for {', '.join(missing)}")
        self.name = name
        self.arrows: dict[A, Arrow[S]] = dict(arrows)

    def __getitem__(self, action: A) -> Arrow[S]:
        return self.arrows[action]

    def __iter__(self) -> Iterator[A]:
        return iter(self.arrows)

    def __len__(self) -> int:
        return len(self.arrows)

    def sources(self, action: A) -> frozenset[S]:
        return self.arrows[action].sources

    def can(self, action: A, state: S) -> bool:
        return state in self.arrows[action].sources

    def available(self, state: S) -> list[A]:
        """The actions that may be fired from `state`, in the table's order."""
        return [a for a, row in self.arrows.items() if state in row.sources]

    def fire(self, action: A, state: S, refusal: Callable[[], str]) -> S:
        """The state after `action`, or NotAllowed with the caller's words for the refusal."""
        row = self.arrows[action]
        if state not in row.sources:
            raise NotAllowed(refusal())
        return row.lands(state)
