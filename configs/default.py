"""Every knob of colorjax, with the term project's GAN (BN discriminator) values.

Variants call `get_config()` and override a few fields; anything can be
overridden on the command line, e.g. ``--config.num_epochs=10``. An argument
after the file name picks a size: ``--config=configs/gan_bn.py:demo``.
"""

import ml_collections


def get_config(arg: str = '') -> ml_collections.ConfigDict:
  """The default config; `arg` may be '' or 'demo'."""
  c = ml_collections.ConfigDict()
  # 'gan' (U-Net G + discriminator), 'unet' (the U-Net, L1 only) or 'cnn'
  # (a plain encoder-decoder, L1 only).
  c.model = 'gan'
  c.seed = 0
  # Seeds trained as one program (a seed axis, `jax.vmap`): seed, seed + 1,
  # ...; each gets WORKDIR/seed_k. 1: a plain run in WORKDIR.
  c.num_seeds = 1

  # Data.
  c.dataset = 'samples'  # 'samples', a folder of images, or a TFDS name.
  c.image_size = 32
  c.validation_fraction = 0.1  # Folders without train/ + validation/.
  c.samples = ml_collections.ConfigDict(dict(num_train=1024,
                                             num_validation=128))
  # TFDS datasets: '' validation split = 'validation', else 'test', else the
  # last 10% of train.
  # Training splits larger than max_in_memory_gb at image_size are streamed.
  c.tfds = ml_collections.ConfigDict(dict(
      train_split='train', validation_split='', data_dir='',
      max_in_memory_gb=2.0))

  # Models.
  c.generator = ml_collections.ConfigDict(dict(
      features=(64, 128, 256, 512, 512), num_dropout=2, dropout_rate=0.5))
  c.discriminator = ml_collections.ConfigDict(dict(
      norm='batch', features=(64, 128, 256, 512)))
  c.cnn = ml_collections.ConfigDict(dict(features=(64, 128, 256, 512)))
  # The CNN's output: 'regression' (ab, L1 loss) or 'classes' (a distribution
  # over the quantised ab gamut: colorjax/nets/ab_classes.py). `rebalance` mixes
  # the class weights with uniform ones (1: none); `temperature` is the
  # annealed mean's at inference (1: the mean; lower: nearer the mode).
  c.head = 'regression'
  c.classes = ml_collections.ConfigDict(dict(rebalance=0.5, temperature=0.38))
  # The model range of a, b is ab / ab_scale; 127 is the reference's
  # (karoly-hars/GAN_image_colorizing datasets.preprocess), so its weights
  # import exactly. `resize` is the models' first bilinear resize to H + 3:
  # 'align_corners' (the reference's F.interpolate(..., align_corners=True),
  # its code since 2020-01-04, on which the term project built) or
  # 'half_pixel' (its 2019 F.upsample, and colorjax's own recipes). See
  # colorjax/colour/spaces.py and colorjax/nets/models.py.
  c.ab_scale = 127.0
  c.resize = 'align_corners'
  # Colour hints (colorjax/hints/propagation.py): the U-Net reads L + a hint map and
  # Levin et al.'s propagation of it, trained on hints simulated from the
  # ground truth (a geometric number of points per image, P(0) = p_none, at
  # most max_points). prior_ab, the colour where no hint reaches, is set by
  # training to the training set's mean a, b (model range). `reach`: how far
  # a hint's colour carries, as a fraction of the longer side, fading faster
  # across lightness edges (colorjax/hints/propagation.py::propagate_local); 0 carries it
  # everywhere (Levin et al.), so a single hint recolours the whole image.
  # `p_salient`: the share of training images whose hints fall on colourful
  # patches, where a person clicks first, rather than anywhere. `gate`
  # (reach, low, high): at inference, each pixel takes the hints' answer in
  # proportion to how strongly it is connected to a hint (hints.gate) and
  # the automatic answer for the rest; reach 0 turns it off.
  # `salient_points` > 0: those images get 1 to that many hints (a person's
  # first clicks) instead of the geometric count.
  # `learned_gate`: the blend's weight is the network's own (a sigmoid head),
  # trained through the blend, in place of the fixed `gate`.
  # `cast_chroma` (lo, hi), CIELAB chroma: with the fixed gate, hints this
  # dull also speak for the painting's overall cast and travel beyond it,
  # fully below lo, not at all above hi (the most colourful hint decides;
  # hints.gate); (0, 0) turns it off.
  # `p_worst`: the share of training images whose hints fall where the
  # network's own answer without hints is most wrong (one more forward pass,
  # no gradient), as a person correcting it clicks. `colour_sigma`, a, b
  # units: each image's hint colours are off by a Gaussian error of a
  # standard deviation drawn in [0, colour_sigma], as a person's colour is.
  # `far_guard` > 0: a loss term of that weight on the colourful-patch
  # images, whenever their hints make the far field (12 px from every hint
  # at 32 px) worse than the automatic answer (losses.far_field_guard).
  c.hints = ml_collections.ConfigDict(dict(
      enabled=False, p_none=0.125, max_points=32, prior_ab=(0.0, 0.0),
      propagation_iterations=150, reach=0.0, p_salient=0.0,
      gate=(0.0, 0.0, 1.0), cast_chroma=(0.0, 0.0), learned_gate=False,
      salient_points=0, far_guard=0.0, p_worst=0.0, colour_sigma=0.0))
  c.conv_impl = 'auto'  # 'auto', 'xla', 'fast' or 'matmul': see colorjax/nets/layers.py.
  c.compute_dtype = 'float32'  # 'bfloat16' on GPU/TPU.

  # Optimisation: lr = base * decay_rate ** (step / decay_steps), >= min_lr.
  c.batch_size = 32  # Global batch, over all devices.
  c.num_epochs = 666
  c.g_lr = 3e-4
  c.d_lr = 6e-5
  c.lr_decay_rate = 0.1
  c.lr_decay_steps = 60_000
  c.min_lr = 1e-6
  c.adam_b1 = 0.5
  c.adam_b2 = 0.999
  c.l1_weight = 0.99
  c.real_label = 0.9  # One-sided label smoothing.

  # Inference: the gain on predicted a, b that colorize and evaluate use
  # unless told otherwise (--vibrance); 1 = as trained.
  c.vibrance = 1.0

  # Logging and checkpoints.
  c.log_every_steps = 50
  # Also validate every this many steps, on the first `eval_subset`
  # validation images (0: all), as metrics.jsonl records of kind
  # 'eval_steps': the steps-to-quality questions of `compare --seeds` then
  # count steps finer than an epoch. 0: at epoch ends only.
  c.eval_every_steps = 0
  c.eval_subset = 0
  c.num_sample_images = 8  # Validation images in each epoch's grid; 0: none.
  c.keep_checkpoints = 2  # Latest N, besides the milestones.
  c.checkpoint_epochs = (200, 466, 666)
  # False saves weights only (a third of the size): a resumed run restarts
  # Adam's moments.
  c.save_optimizer = True
  c.compilation_cache_dir = '~/.cache/colorjax/xla'  # '' turns it off.

  return apply_variant(c, arg)


def apply_variant(c: ml_collections.ConfigDict,
                  arg: str) -> ml_collections.ConfigDict:
  """Applies the size named after the config file's colon ('' or 'demo')."""
  if arg not in ('', 'demo'):
    raise ValueError(f'unknown config variant {arg!r}; use "" or "demo".')
  if arg == 'demo':
    # The same model on the embedded samples, ~2 minutes on 2 CPU cores.
    c.dataset = 'samples'
    c.samples.num_train = 1024
    c.samples.num_validation = 128
    c.num_epochs = 6
    c.log_every_steps = 8
    c.checkpoint_epochs = ()
    c.keep_checkpoints = 1  # Weights only: the workdir stays under 150 MB.
    c.save_optimizer = False
  return c
