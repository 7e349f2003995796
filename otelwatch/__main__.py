from otelwatch.cli import main

# Guarded: decoder worker processes import the main module, and must not run the CLI.
if __name__ == "__main__":
    raise SystemExit(main())
