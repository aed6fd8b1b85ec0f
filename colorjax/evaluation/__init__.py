"""Scoring trained models: `evaluate`, the hint tables, the gallery.

Holds `evaluate` (a run scored, and its report), `command` (the
`colorjax evaluate` command), `session` and `session_eval` (a person's
correcting session), `stats` (intervals and paired tests), `hint_eval` (scores with 0
to N hints, beside Levin et al. and the hint-free answers), `tables`
(Markdown tables), `gallery` (a strip of paintings) and `pareto` (the
quality-versus-colourfulness view).

May import: `colorjax.interop`, `colorjax.inference` and every wing below
them.
"""
