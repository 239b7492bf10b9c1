"""Policy: CI rules, their thresholds and configuration, evaluated into results (never printed here)."""
