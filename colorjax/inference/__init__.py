"""Colouring paintings: the Colorizer, the `colorize` command and the model
that ships in the package.

Holds `colorizer` (`Colorizer`: any size, hints, vibrance), `colorize` (the
command), `pretrained` (the bundled model: load, check, export), `runs` (a
model by name: a run directory or the bundled model) and
`export_pretrained` (the command that writes the bundled model's files).

May import: `colorjax.training` and every wing below it.
"""
