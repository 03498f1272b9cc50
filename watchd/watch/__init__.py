"""Watching drop folders: observers, filters, rescans and the settling rule."""
