"""`python -m voting` is the `voting` command."""

from voting.cli import main

raise SystemExit(main())
