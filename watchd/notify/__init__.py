"""Notifications: events queued in the database, delivered to webhooks and email."""
