"""Adapters: SQLAlchemy mapping and repositories, PDFs, file formats."""
