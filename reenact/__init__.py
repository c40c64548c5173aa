"""reenact: face reenactment with a drivable, generalized NeRF head model."""

__version__ = "0.1.0"
