"""The functional ARC environment and its configuration."""
