"""The user's setup, read and checked before the first request."""
