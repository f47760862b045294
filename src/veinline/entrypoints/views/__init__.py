"""Read models shared by the HTTP and CLI entrypoints: JSON-ready dicts.

Views read through a unit of work and never import `http` or `cli`.
"""
