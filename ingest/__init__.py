"""OTLP in: the gRPC and HTTP listeners and the decoders that turn requests into store rows.

Imports neither Textual nor DuckDB (checked by the import-linter contracts in pyproject.toml).
"""
