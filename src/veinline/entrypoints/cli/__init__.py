"""The command-line entrypoint (Typer): `main` is the root, `context` what commands
share, one module per command group (docs/architecture.md)."""
