"""``python -m fedstate.cli``: the same as the ``fedstate`` command."""

from fedstate.cli.main import app

app()
