"""Failure drills: break the lab on purpose, measure what clients saw, restore it."""
