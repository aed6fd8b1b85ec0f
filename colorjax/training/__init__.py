"""Training: the state, the jitted steps, the loop and what it writes.

Holds `state` (networks, optimisers, train state), `steps` (train and eval
steps, the device mesh), `train` (the loop, `train_and_evaluate`),
`launch` (the `train` command), `actions` (what runs each step or epoch),
`checkpoint`, `workdir` (a run directory: config, lock, records),
`writers`, `plots` (a run's loss and metric plots) and `config_validation`
(every config value checked before a step runs).

May import: `colorjax.nets` and every wing below it.
"""
