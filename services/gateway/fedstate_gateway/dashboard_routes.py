"""The operator dashboard at ``/``: one static page (HTML, plain JavaScript, CSS) shipped in this package.

No build step and nothing fetched from elsewhere: the page reads the REST API and follows ``GET /watch`` over
one server-sent-events connection, so it sees exactly what ``fedstate`` and platforms see.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

ASSETS = Path(__file__).parent / "dashboard"
ASSETS_PATH = "/dashboard"

router = APIRouter(tags=["dashboard"])


@router.get("/", include_in_schema=False)
async def dashboard() -> FileResponse:
    return FileResponse(ASSETS / "index.html", headers={"Cache-Control": "no-cache"})


def dashboard_assets() -> StaticFiles:
    """The page's script and style sheet, mounted at ``ASSETS_PATH``."""
    return StaticFiles(directory=ASSETS)
