"""Entrypoints: the CLI, the JSON API and the web pages."""
