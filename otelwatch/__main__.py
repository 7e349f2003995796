from otelwatch.cli import main

raise SystemExit(main())
