"""otelwatch: watch what an AI coding agent does and costs."""

__version__ = "0.1.0"
