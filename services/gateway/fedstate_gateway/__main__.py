"""``python -m fedstate_gateway``: serve the REST API with uvicorn, configured from ``FEDSTATE_*`` and flags."""

from __future__ import annotations

import uvicorn

from fedstate import telemetry
from fedstate.service import exit_without_collecting
from fedstate.settings import load_settings

from .app import SERVICE_NAME, create_app
from .settings import GatewaySettings


def main() -> None:
    settings = load_settings(GatewaySettings)
    telemetry.setup_logging(SERVICE_NAME, settings.log_level)
    telemetry.setup_tracing(SERVICE_NAME, settings.spans_file)
    uvicorn.run(
        create_app(settings),
        host=settings.api_host,
        port=settings.api_port,
        log_level=settings.log_level.lower(),
        access_log=False,
        log_config=None,
    )
    exit_without_collecting()


if __name__ == "__main__":
    main()
