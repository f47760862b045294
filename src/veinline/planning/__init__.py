"""Slot scheduling (OR-Tools CP-SAT) and capacity simulation (SimPy); sees only the domain."""
