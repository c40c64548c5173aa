"""Defaults that the command line (which imports only light modules, to start fast) shares with the
pipeline."""

DRIVE_SMOOTH = 1.0
"""Temporal smoothing strength ``reenact drive`` applies to the tracked pose and expression
(``tracking/smoothing.py``); ``reenact eval``'s ``smoothed`` row uses it too."""
