"""Persistence: typed models, engine/session, repository functions (docs/architecture.md#data-model)."""
