"""``python -m fedstate_scheduler``: run the scheduler service (NATS URL from FEDSTATE_NATS_URL)."""

from __future__ import annotations

from fedstate.service import run
from fedstate.settings import ServiceSettings

from .service import make_body


def main() -> None:
    settings = ServiceSettings()
    run("scheduler", settings, make_body(settings))


if __name__ == "__main__":
    main()
