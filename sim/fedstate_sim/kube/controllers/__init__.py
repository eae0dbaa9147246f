"""Controllers of a simulated cluster, each an asyncio task draining a de-duplicating work queue.

Store listeners only enqueue keys; ``reconcile(key)`` re-reads the store. Idle controllers
sleep on an ``asyncio.Event``: no polling, so a hundred idle clusters cost nothing.
"""
