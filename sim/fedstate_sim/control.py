"""The simulator's control API on 127.0.0.1 (aiohttp): list clusters and inject faults.

GET  /sim/healthz
GET  /sim/clusters
POST /sim/clusters/{name}/fail | /recover
POST /sim/partition  {"clusters": [...], "from": [...]}
POST /sim/heal
POST /sim/clusters/{name}/namespaces/{ns}/pods/{pod}/kill
GET  /sim/mongo/refusals   the latest commands refused as Unauthorized (13), oldest first
"""

from __future__ import annotations

import json
import socket
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from fedstate_sim.config import SIMULATOR_BANNER
from fedstate_sim.kube.errors import ApiError

if TYPE_CHECKING:
    from fedstate_sim.world import World

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": f"{message} (fedstate simulator)"}, status=status)


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except KeyError as exc:
        return _error(404, str(exc.args[0]) if exc.args else "not found")
    except ApiError as exc:
        return _error(exc.code, exc.message)
    except (ValueError, TypeError) as exc:
        return _error(400, str(exc))


class ControlApi:
    def __init__(self, world: World) -> None:
        self.world = world
        self.port = 0
        self._runner: web.AppRunner | None = None

    def app(self) -> web.Application:
        app = web.Application(middlewares=[_errors])
        app.router.add_get("/sim/healthz", self.healthz)
        app.router.add_get("/sim/clusters", self.clusters)
        app.router.add_post("/sim/clusters/{name}/fail", self.fail)
        app.router.add_post("/sim/clusters/{name}/recover", self.recover)
        app.router.add_post("/sim/partition", self.partition)
        app.router.add_post("/sim/heal", self.heal)
        app.router.add_post("/sim/clusters/{name}/namespaces/{ns}/pods/{pod}/kill", self.kill)
        app.router.add_get("/sim/mongo/refusals", self.refusals)
        return app

    async def start(self, port: int = 0) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        self.port = sock.getsockname()[1]
        self._runner = web.AppRunner(self.app(), access_log=None, shutdown_timeout=0.25)
        await self._runner.setup()
        await web.SockSite(self._runner, sock).start()

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "simulator": SIMULATOR_BANNER, "clusters": len(self.world.clusters)})

    async def clusters(self, request: web.Request) -> web.Response:
        items = [
            {
                "name": c.name,
                "vip": c.vip,
                "apiServer": c.api_url,
                "down": c.down,
                "region": c.config.region,
                "zone": c.config.zone,
                "provider": c.config.provider,
            }
            for c in self.world.clusters.values()
        ]
        return web.json_response({"clusters": items, "simulator": SIMULATOR_BANNER})

    async def fail(self, request: web.Request) -> web.Response:
        await self.world.fail_cluster(request.match_info["name"])
        return await self._cluster_state(request)

    async def recover(self, request: web.Request) -> web.Response:
        await self.world.recover_cluster(request.match_info["name"])
        return await self._cluster_state(request)

    async def _cluster_state(self, request: web.Request) -> web.Response:
        cluster = self.world.cluster(request.match_info["name"])
        return web.json_response({"name": cluster.name, "down": cluster.down, "apiServer": cluster.api_url})

    async def partition(self, request: web.Request) -> web.Response:
        body = await _json(request)
        side_a, side_b = body.get("clusters"), body.get("from")
        if not isinstance(side_a, list) or not isinstance(side_b, list):
            raise ValueError('expected {"clusters": [...], "from": [...]}')
        await self.world.partition(side_a, side_b)
        return web.json_response({"partitioned": {"clusters": side_a, "from": side_b}})

    async def heal(self, request: web.Request) -> web.Response:
        await self.world.heal()
        return web.json_response({"healed": True})

    async def kill(self, request: web.Request) -> web.Response:
        info = request.match_info
        await self.world.kill_pod(info["name"], info["ns"], info["pod"])
        return web.json_response({"killed": f"{info['ns']}/{info['pod']}", "cluster": info["name"]})

    async def refusals(self, request: web.Request) -> web.Response:
        return web.json_response({"refusals": await self.world.host.access_refusals(), "simulator": SIMULATOR_BANNER})


async def _json(request: web.Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.read() or b"{}")
    except ValueError as exc:
        raise ValueError(f"invalid JSON body: {exc}") from exc
    if not isinstance(body, dict):
        raise ValueError("expected a JSON object")
    return body
