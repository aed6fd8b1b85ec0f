"""The networks and their losses: Flax modules and pure functions.

Holds `layers` (convolutions, spectral norm, the conv forms), `models` (the
U-Net generator, the BN and SN discriminators, the CNN baseline),
`hint_head` (what a hint generator adds: its inputs, head and gate blend),
`losses`
(L1, BCE, the hint guards) and `ab_classes` (the a,b classes head).

May import: `colorjax.hints`, `colorjax.colour`, `colorjax.datasets` and the
shared modules.
"""
