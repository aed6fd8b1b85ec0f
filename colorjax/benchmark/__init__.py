"""BN versus SN: training recipes side by side over seeds and reporting
them with their uncertainty.

Holds `compare` (the command), `seed_report` (the report over seeds),
`learning_curves` (curves and first-to-beat questions), `curve_figures`
(their figures) and `stats`
(intervals and tests).

May import: `colorjax.evaluation` and every wing below it.
"""
