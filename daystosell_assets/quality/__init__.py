"""Data quality: Pandera contracts read as row rules, diagnoses of what broke, and the blocking checks."""
