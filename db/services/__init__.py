"""The service layer: the one door to the clinic's data for every face.

A use case is one method of `Clinic`: it takes the acting staff member,
opens one transaction, checks the permission and the version, writes, appends
the audit event and bumps the change marker (the functions of `db.*` do those
inside the session), and returns a typed result or raises a typed refusal
from `core.refusals` (`Refused`, `StaleEdit`, `NotFound`, `Unavailable`).
Screens call it from thread workers, the command line calls it directly; none
of them opens a session or builds a query.

Each area of the clinic has its own module and mixin (`followup`,
`incidents`, ...); `Clinic` is their sum.
"""

from __future__ import annotations

from db.services.base import ServiceBase
from db.services.clinic import Clinic

__all__ = ["Clinic", "ServiceBase"]
