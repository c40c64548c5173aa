"""Defaults that the command line (which imports only light modules, to start fast) shares with the
pipeline."""

DRIVE_SMOOTH = 1.0
"""Temporal smoothing strength ``reenact drive`` applies to the tracked head pose (``tracking/smoothing.py``);
``reenact eval``'s ``smoothed`` row uses it too."""
DRIVE_SMOOTH_EXPRESSION = 0.0
"""... and to the tracked expression. Off: a 7–9-frame window halves a talking mouth's and a blink's
amplitude (``docs/experiments.md``), and the output's landmark jitter stays below the source's without it."""
