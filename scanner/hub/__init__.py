"""Talking to the Hub: the client, its transport and its errors."""
