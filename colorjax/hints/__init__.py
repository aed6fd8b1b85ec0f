"""Colour hints: how a hint travels, how training places them, and how a
person's hints are read and written.

Holds `propagation` (hint channels, propagation and the inference gate),
`simulation` (hints drawn for training), `hint_files` (JSON and scribble
files of points), `hint_lookup` (which hints file goes with which painting)
and `locality` (how far a hint's effect reaches).

May import: `colorjax.colour`, `colorjax.datasets` and the shared modules.
"""
