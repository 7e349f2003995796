"""The sub-commands of ``otelwatch``: one module each, with ``add_parser`` and ``run``."""
