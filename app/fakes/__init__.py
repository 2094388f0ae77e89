"""Fake external services for tests and demos. Run as separate processes; never imported by connectors."""
