from storage_initializer.entrypoint import main

raise SystemExit(main())
