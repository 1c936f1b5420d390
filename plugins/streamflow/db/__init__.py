"""Persistence: typed models, engine/session, repository functions (DESIGN §4)."""
