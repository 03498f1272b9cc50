from watchd.cli.main import main

raise SystemExit(main())
