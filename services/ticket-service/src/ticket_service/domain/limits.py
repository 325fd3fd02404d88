"""Input limits, documented in the README; requests beyond them get 413 or 422 and write nothing."""

from __future__ import annotations

MAX_SUMMARY = 255
MAX_DESCRIPTION = 20_000
MAX_COMMENT = 20_000
MAX_COMPONENTS = 10
MAX_COMPONENT = 64
MAX_SHORT_FIELD = 128  # cluster id, environment, affected version
MAX_EMAIL = 254
MAX_HOLIDAYS = 400
MAX_PAGE = 200
MAX_OFFSET = 1_000_000
MAX_SEARCH = 200  # ticket list text search
