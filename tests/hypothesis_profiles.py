"""Hypothesis profiles for the property tests; importing this module registers and loads them.

- ``default``: 200 examples per test, for a developer's run.
- ``ci``: 1,000 examples per test (the budget is per property, not per run); loaded when the
  environment variable ``CI`` is set (CI runs with ``CI=true``). Enough to catch a regression on
  every push while keeping ``make test`` to a few minutes.
- ``deep``: 10,000 examples per test, for a deliberate hunt (``make test-deep``, which also runs
  anything else too slow for every push); never loaded implicitly.

``HYPOTHESIS_PROFILE=<name>`` picks a profile explicitly and wins over ``CI``.
Full pipeline runs get a 25th of the profile's examples (see tests/test_properties.py).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from hypothesis import HealthCheck, settings

DEFAULT_EXAMPLES = 200
CI_EXAMPLES = 1_000
DEEP_EXAMPLES = 10_000

settings.register_profile(
    "default",
    max_examples=DEFAULT_EXAMPLES,
    deadline=None,  # a whole pipeline run takes ~0.1 s; a deadline would only make it flaky
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "ci",
    max_examples=CI_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,  # a failure prints the @reproduce_failure line to replay it locally
)
settings.register_profile("deep", settings.get_profile("ci"), max_examples=DEEP_EXAMPLES)


def profile_name(environ: Mapping[str, str] = os.environ) -> str:
    """The profile to load: ``HYPOTHESIS_PROFILE``, else ``ci`` when ``CI`` is set, else default."""
    explicit = environ.get("HYPOTHESIS_PROFILE", "").strip()
    if explicit:
        return explicit
    ci = environ.get("CI", "").strip().lower()
    return "ci" if ci and ci not in ("0", "false", "no") else "default"


PROFILE = profile_name()
settings.load_profile(PROFILE)
