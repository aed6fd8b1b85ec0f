"""The colouring page: `logic` (what the page does to a painting, with no
Gradio) and `app` (its Gradio wiring, the `page` command).

May import: `colorjax.inference` and every wing below it; Gradio is the
`[app]` extra, imported by `app` only.
"""
