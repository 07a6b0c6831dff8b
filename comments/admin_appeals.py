"""Placeholder: filled by the moderation desk work in progress (issue 13)."""
