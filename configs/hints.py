"""Colourisation guided by colour hints (points or strokes a person places).

The U-Net generator, L1 only, reading L, a hint map and Levin et al.'s
propagation of it (colorjax/hints/propagation.py), trained on hints simulated from the
ground truth as Zhang, Zhu et al. 2017 did, on the `paintings_more` corpus
(its `test` split left out). Zero hints is automatic colourisation, so the
same model serves both. The U-Net, chosen by measurement: trained alike, it
beat the paintings recipe's CNN base (`--config.model=cnn`) by 0.07-0.13
Delta-E00 at every hint count (docs/hints.md). The a, b scale is 110 as in
the paintings recipe (the whole sRGB gamut inside the tanh).

A hint colours its region, not the whole painting: at inference each
pixel takes the model's answer with the hints in proportion to how strongly
it is connected to a hint through similar lightness, and its automatic
answer for the rest (`hints.gate`: the confidence of a propagation that
fades over half the longer side, mapped from [0.15, 0.35] to [0, 1]; chosen
on the validation split against a fading input and hints on colourful
patches in training, docs/hints.md). Training is as before.

Variants: ``:cpu`` trains in about 25 minutes on 2 CPU cores (the README's
figures come from it); ``:bundled`` is the model that ships in the package
(half the widths, the same CPU time); the full variant trains longer, for a
GPU; ``:session`` is ``:bundled`` trained for a person's correcting session
(hints where its own answer is most wrong, colours off by a person's
error); ``:demo`` runs on the embedded samples.
"""

import ml_collections

from colorjax.configs import default
from colorjax.configs import paintings


def get_config(arg: str = '') -> ml_collections.ConfigDict:
  c = paintings.get_config()
  c.model = 'unet'
  c.hints.enabled = True
  c.hints.gate = (0.5, 0.15, 0.35)
  c.vibrance = 1.0  # Hints bring the colour; no gain at inference.
  c.num_epochs = 150
  c.lr_decay_steps = 8_000
  if arg in ('cpu', 'bundled', 'session'):
    c.num_epochs = 40
    c.lr_decay_steps = 2_000
    c.log_every_steps = 20
    c.keep_checkpoints = 1
    if arg in ('bundled', 'session'):
      # The model that ships in the package (colorjax/pretrained, under
      # 10 MB as float16): half the widths, trained on the same CPU budget
      # as :cpu (more epochs, the same schedule stretched); it scored within
      # 0.05 Delta-E00 of the full widths at 0, 5 and 10 hints
      # (docs/pretrained.md).
      c.generator.features = (32, 64, 128, 256, 256)
      c.num_epochs = 70
      c.lr_decay_steps = 3_500
      # Made for a person's first clicks: half its training hints sit on
      # colourful patches, and it reads how strongly each pixel connects to
      # a hint (a fading propagation). Chosen on the validation split: one
      # such hint leaves 7% of paintings worse far from it (16% without),
      # at the cost of 0.1-0.15 Delta-E00 with 2-20 random hints
      # (docs/hints.md#a-hint-colours-its-region).
      c.hints.p_salient = 0.5
      c.hints.reach = 0.2
    if arg == 'session':
      # For a person's correcting session (docs/hints.md#a-model-for-the-
      # session): half the images get their hints where the network's own
      # answer without hints is most wrong, a quarter on colourful
      # patches, and every hint's colour is off by up to a person's error.
      c.hints.p_salient = 0.25
      c.hints.p_worst = 0.5
      c.hints.colour_sigma = 5.0
    return c
  return default.apply_variant(c, arg)
