"""Trains a colorjax model: `python launch.py --config=configs/RECIPE.py
--workdir=DIR` (the same as `colorjax train`; see colorjax/training/launch.py).
"""

from colorjax.training import launch

if __name__ == '__main__':
  launch.cli()
