"""Reusable ComponentResources: they know nothing of environments or config files."""
