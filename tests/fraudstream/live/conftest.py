"""Fixtures of the live view's tests: a simulated running processor and a fresh alerts table."""

from tests.fraudstream.live.simulated import alerts_settings_fixture, processor_fixture

__all__ = ["alerts_settings_fixture", "processor_fixture"]
