"""The daystosell Dagster code location: lake, features, model, bundle and release."""
