"""The refusals ticket rules raise are the kit's (carekit.refusals), one hierarchy for every service:
Invalid (a rule, 422), NotEntitled (the plan, 403 naming the plan that would), Conflict (the ticket's state,
409), Forbidden (the role, 403), NotFound (404)."""

from carekit.refusals import Conflict, Forbidden, Invalid, NotConfigured, NotEntitled, NotFound, Refused

__all__ = ["Conflict", "Forbidden", "Invalid", "NotConfigured", "NotEntitled", "NotFound", "Refused"]
