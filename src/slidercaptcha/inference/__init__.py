"""Inference for users: ``SliderSolver`` (Python API), backends, CLI commands and the HTTP service."""

from slidercaptcha.inference.images import ImageError, ImageLimits, ImageTooLargeError, load_image
from slidercaptcha.inference.solver import SliderSolver, SolveResult

__all__ = ["SliderSolver", "SolveResult", "ImageError", "ImageTooLargeError", "ImageLimits", "load_image"]
