"""The Textual dashboard.

Reads through the store's Reader; imports neither DuckDB, gRPC nor ingest.
"""
