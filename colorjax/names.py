"""Every name that more than one module spells: metric keys and workdir files.

Writers, plots, evaluation, the comparison report and the tests import these
instead of repeating the strings, so a rename happens in one place.
"""

import re

__all__ = ['AB_AUC', 'AB_SWD', 'BUNDLED', 'CHECKPOINTS', 'COLOURFULNESS',
           'COLOURFULNESS_RATIO', 'COLOURFULNESS_TRUE', 'CONFIG', 'CONV_IMPL',
           'D_ACC_FAKE', 'D_ACC_REAL', 'D_GRAD_NORM', 'D_LOSS', 'D_LR',
           'DATA_STATS', 'DELTA_CF', 'DELTA_E', 'EVAL', 'eval_report', 'G_ADV',
           'G_CE', 'G_GRAD_NORM', 'G_GUARD', 'G_L1', 'G_LOSS', 'G_LR',
           'IMAGES_PER_SEC', 'L1', 'LAB_ACC_NAZERI', 'LAB_ACC_TERM', 'LOCK',
           'MEAN_ABS_DL', 'METRICS', 'PAINTINGS_MORE_BUILD',
           'PAINTINGS_MORE_DIR', 'PLOTS', 'PSNR', 'RECORD_KEYS', 'REPORT',
           'sample_grid', 'SAMPLES', 'seed_dir', 'SSIM', 'TRAIN', 'val',
           'VAL_PREFIX', 'VALIDATION', 'VALIDATION_STEPS', 'WALL_TIME']


# Workdir layout (all relative to the workdir).
CONFIG = 'config.json'  # The config a run was started with.
METRICS = 'metrics.jsonl'  # One JSON record per log line and per evaluation.
DATA_STATS = 'data_stats.json'  # The training set's mean ab (a baseline).
# The convolution form conv_impl='auto' chose, and how (training.conv_choice).
CONV_IMPL = 'conv_impl.json'
CHECKPOINTS = 'checkpoints'  # Orbax checkpoints, numbered by step.
SAMPLES = 'samples'  # One sample grid per epoch.
PLOTS = 'plots'  # Per-epoch curves.
EVAL = 'eval'  # `evaluate`'s JSON reports.
WALL_TIME = 'wall_time.json'  # `compare --train`'s wall time of a run.
REPORT = 'report.md'  # `compare`'s report.
LOCK = 'lock'  # Held by the process training in the workdir.

# The trained hint model that ships in the package (colorjax/inference/pretrained.py):
# its name wherever a tool takes a workdir, and the model used when none is
# given.
BUNDLED = 'colorjax:hints'

# Where `colorjax download paintings_more` builds the painting corpus
# by default, and where the recipes look for it.
PAINTINGS_MORE_DIR = '~/colorjax_data/paintings_more'
PAINTINGS_MORE_BUILD = 'colorjax download paintings_more'


def seed_dir(k: int) -> str:
  """Seed k's workdir inside a run of several seeds (a complete workdir)."""
  return f'seed_{k}'


def sample_grid(epoch: int) -> str:
  """The sample grid of `epoch`, relative to the workdir."""
  return f'{SAMPLES}/epoch_{epoch:04d}.png'


def eval_report(epoch: int, data: str = '') -> str:
  """`evaluate`'s default output for `epoch`, relative to the workdir; `data`
  names what was scored when it is not the run's own validation split
  (`paintings_more_test`), so scoring another dataset keeps the first
  report."""
  tag = re.sub(r'[^A-Za-z0-9.+-]+', '_', data).strip('_.')
  return f'{EVAL}/epoch_{epoch}{"_" + tag if tag else ""}.json'


# Record kinds in METRICS.
TRAIN = 'train'
VALIDATION = 'eval'
# Validation every config.eval_every_steps steps, on config.eval_subset images.
VALIDATION_STEPS = 'eval_steps'
# Keys every record carries besides its metrics.
RECORD_KEYS = ('kind', 'epoch', 'step', 'time')

# Metric keys.
VAL_PREFIX = 'val_'
IMAGES_PER_SEC = 'images_per_sec'
G_LOSS, G_L1, G_ADV, G_LR, G_GRAD_NORM = (
    'g_loss', 'g_l1', 'g_adv', 'g_lr', 'g_grad_norm')
G_CE = 'g_ce'  # The ab-classes head's rebalanced cross-entropy.
G_GUARD = 'g_guard'  # A hint generator's far-field guard (losses).
D_LOSS, D_LR, D_GRAD_NORM, D_ACC_REAL, D_ACC_FAKE = (
    'd_loss', 'd_lr', 'd_grad_norm', 'd_acc_real', 'd_acc_fake')
# Per-image validation metrics (`metrics.score_ab`).
DELTA_E = 'delta_e'
LAB_ACC_TERM = 'lab_acc_term_project'
LAB_ACC_NAZERI = 'lab_acc_nazeri'
AB_AUC = 'ab_auc'
PSNR = 'psnr'
SSIM = 'ssim'
MEAN_ABS_DL = 'mean_abs_dl'
COLOURFULNESS = 'colourfulness'
COLOURFULNESS_TRUE = 'colourfulness_true'
COLOURFULNESS_RATIO = 'colourfulness_ratio'
DELTA_CF = 'delta_cf'  # Mean |colourfulness(pred) - colourfulness(true)|.
# Sliced Wasserstein distance of each image's a, b distributions.
AB_SWD = 'ab_swd'
L1 = 'l1'


def val(key: str) -> str:
  """The name of a validation metric in METRICS records."""
  return VAL_PREFIX + key
