"""Use cases: one handler per mutation, the unit of work and the message bus."""
