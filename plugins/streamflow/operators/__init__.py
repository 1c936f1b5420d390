"""Thin operators: plan → fetch via hook → persist via repository."""
