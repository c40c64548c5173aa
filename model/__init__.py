"""The drivable generalized NeRF head model (paper §2.2): a conditional field f(γ(x), γ(d), β, z_id) → (σ, F),
feature volume rendering to a low-resolution map, and a GIRAFFE-style neural renderer to RGB.

Modules (one job each): ``camera`` (the camera convention), ``config`` (frozen configs + presets),
``encoding``, ``field``, ``ray_sampling``, ``volume_rendering``, ``neural_renderer``, ``head_model``
(connects them), ``losses``, ``metrics``, ``checkpoint``, ``expression`` (what β is measured from), ``data``
(training cache format), ``train``, ``fit``, ``render`` (orbits, interpolation, batched rendering),
``image_io`` (PNG writer). ``model`` imports nothing from ``tracking`` or ``reenact``;
its errors are in ``errors``.
"""
