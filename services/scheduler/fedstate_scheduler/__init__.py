"""FedState scheduler: decides how many MongoDB members go to which member cluster, and why.

``domain`` is the pure core (``decide``); ``service`` is the bus edge around it.
"""

from __future__ import annotations

from .domain import MemberShape, PlacementRequest, Reservation, decide

__all__ = ["MemberShape", "PlacementRequest", "Reservation", "decide"]
