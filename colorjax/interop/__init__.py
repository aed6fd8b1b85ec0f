"""PyTorch weights in and out.

Holds `torch_weights` (the parameter mapping), `pth_files` (reading and
writing `.pth` files safely), `import_torch` and `export_torch` (the
commands).

May import: `colorjax.inference` and every wing below it. PyTorch itself is
the `[torch]` extra, imported only where a `.pth` is read or written.
"""
