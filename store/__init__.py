"""The DuckDB store: schema and migrations, the single writer, and the named read queries.

Imports neither Textual nor gRPC (checked by the import-linter contracts in pyproject.toml).
"""
