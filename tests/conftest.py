"""Test-suite settings.

Hypothesis explores new random examples on every local run (that is how the
property tests find bugs); under CI (the CI environment variable is set) it
runs a fixed, derandomized set so that a landing does not depend on luck.
"""
import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, deadline=None, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")
