"""Organisations, staff accounts, sessions, CSRF and the permission module."""
