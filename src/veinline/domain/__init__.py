"""Pure domain: aggregates, state tables, rules, identifiers, grading (standard library only)."""
