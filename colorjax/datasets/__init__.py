"""TFDS builders of colorjax; importing this package registers them."""

from colorjax.datasets import oxford_paintings  # noqa: F401  (registers it)
