"""Reusable steps: files, packages, services, databases. Roles combine them."""
