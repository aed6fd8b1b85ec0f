"""Colour maths: CIELAB and the model's a,b scales, the metrics, and the
trivial answers every figure stands beside.

Holds `spaces` (sRGB <-> CIELAB, the model range, named a,b scales),
`metrics` (CIEDE2000, LAB accuracy, PSNR, SSIM, colourfulness, dCF), `swd`
(sliced Wasserstein distance of a,b), `full_res` (the same metrics at a
painting's own size, strip by strip) and `baselines` (the grey and
constant-prior answers, scored).

May import: `colorjax.datasets` and the shared modules (`errors`, `names`,
`files`, `runtime`, `configs`).
"""
