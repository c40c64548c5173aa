"""Defaults that the command line (which imports only light modules, to start fast) shares with the pipeline."""

DRIVE_SMOOTH = 1.0
"""Temporal smoothing strength ``reenact drive`` applies to the tracked pose and expression (``tracking/smoothing.py``);
``reenact eval``'s ``smoothed`` row uses it too."""

CALIBRATE_EXPRESSION = False
"""Whether a target's fit also measures its expression map (``reenact/calibration.py``) that drive applies. Off: on
held-out people it did not bring the renders' expression closer to the driver's (README, "Expression calibration")."""
