"""Positions: what tracker apps send, parsed into one kind of fix and checked (issue 17)."""
