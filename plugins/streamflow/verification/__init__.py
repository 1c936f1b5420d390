"""Forecast verification: pair forecasts with observations, score them by lead time (ADR 0013)."""
