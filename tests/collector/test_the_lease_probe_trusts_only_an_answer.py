"""A lease is renewed only while its cluster's API answers ``/version``: a refusal, a failed cluster or a rejected
token each count as no answer; the API's return counts again."""

from __future__ import annotations

from contextlib import AsyncExitStack

from fedstate.kube import api_answers, api_client

from .conftest import Sim

TIMEOUT = 10.0  # the probe's allowance (half the failure threshold); a failed cluster refuses at once


async def test_the_probe_answers_while_the_cluster_answers_and_not_while_it_is_failed(sim: Sim) -> None:
    """Up, failed, recovered: yes, no, yes."""
    async with AsyncExitStack() as stack:
        api = await api_client(sim.kubeconfig, sim.name("a"))
        stack.push_async_callback(api.close)
        probe = api_answers(api, TIMEOUT)
        up = await probe()
        await sim.world.fail_cluster(sim.name("a"))
        failed = await probe()
        await sim.world.recover_cluster(sim.name("a"))
        assert (True, False, True) == (up, failed, await probe())


async def test_an_api_that_rejects_the_credentials_does_not_count_as_answering(sim: Sim) -> None:
    """A 401 is an answer from the server but not one a lease can vouch on: the holder cannot work there."""
    async with AsyncExitStack() as stack:
        api = await api_client(sim.kubeconfig, sim.name("a"))
        stack.push_async_callback(api.close)
        api.configuration.api_key["BearerToken"] = "Bearer not-a-token-of-this-cluster"
        assert not await api_answers(api, TIMEOUT)()
