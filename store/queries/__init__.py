"""The Reader's named queries, one module per area of the application.

Each module defines the frozen dataclasses it returns and a mixin class of query methods;
``otelwatch.store.reader.Reader`` combines the mixins.
"""
