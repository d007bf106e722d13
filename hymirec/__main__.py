"""``python -m hymirec``: the ``hymirec`` command, importing the hymirec package found from the current directory.

dvc.yaml runs stages this way, so a queued experiment's temporary copy of the repository runs its own code,
not the checkout the virtualenv was installed from.
"""

from hymirec.cli import main

raise SystemExit(main())
