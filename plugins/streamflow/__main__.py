from streamflow.cli import main

raise SystemExit(main())
