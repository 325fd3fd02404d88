"""Repository-wide pytest configuration: the fixtures live in carekit_testing (a dev-only package).

Property tests (hypothesis) explore new examples on every local run and keep the failures they find in
`.hypothesis/`. Under CI (`CI=true`) they run derandomized: the same examples every run, so that a CI run fails
because of a change, never because this run happened to draw a new case. `HYPOTHESIS_PROFILE` picks a profile by name.
"""

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") == "true" else "default"))

pytest_plugins = ["carekit_testing"]
