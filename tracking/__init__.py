"""Face tracking for reenact: per-frame head pose, 46-d expression code, crop, mask and identity.

Entry points: :class:`tracking.tracker.Tracker` / :class:`tracking.tracker.TrackerConfig` (library API
of ``reenact track``), results in :mod:`tracking.types`. Modules: ``landmarks`` (MediaPipe face mesh),
``landmark_model`` + ``build_basis`` (the FaceWarehouse stand-in), ``fit`` (pose/identity/expression),
``crop``, ``mask``, ``identity``, ``smoothing``, ``preview``. Camera convention: ``model/camera.py``.
Importing this package loads no MediaPipe graph.
"""
