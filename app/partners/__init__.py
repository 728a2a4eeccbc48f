"""The partner directory (content in partners/*.yml)."""
