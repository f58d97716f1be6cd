"""Shared pytest configuration for duban's tests (unit fixtures live in tests/unit/conftest.py)."""
