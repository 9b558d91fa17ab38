"""Output for people (console, tables, progress) and machines (JSON documents)."""
