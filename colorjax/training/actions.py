"""What happens around the training loop: logs, metric files, pictures, saves.

The loop (`colorjax.training.train`) calls every action at three points and hands it
the metrics dict; no action changes the state and the loop names no metric:

* `every_log(epoch, step, metrics)`: every `config.log_every_steps` steps and
  at the end of each epoch, with the means since the last call;
* `every_epoch(state, epoch, metrics)`: after each epoch's validation, with
  the validation metrics;
* `at_end(state)`: when the loop stops (finished, stopped or preempted).
"""

import os
import time
from typing import Dict, List, Mapping

from absl import logging
import jax
import ml_collections
import numpy as np

from colorjax import extras
from colorjax import names
from colorjax.colour import spaces
from colorjax.training import checkpoint
from colorjax.training import plots
from colorjax.training import writers
from colorjax.training.state import TrainState
from colorjax.training.steps import Steps

__all__ = ['Action', 'create_actions', 'format_metrics', 'LogLine',
           'mean_metrics', 'Plots', 'sample_images', 'SampleGrid',
           'SaveCheckpoint', 'Scalars', 'WriteMetrics']

Scalars = Mapping[str, float]


class Action:
  """An action does nothing at a point unless it overrides that method."""

  def every_log(self, epoch: int, step: int, metrics: Scalars) -> None:
    """Called with the mean training metrics since the last call."""

  def every_epoch(self, state: TrainState, epoch: int,
                  metrics: Scalars) -> None:
    """Called after epoch `epoch` (1-based) with its validation metrics."""

  def every_validation(self, state: TrainState, epoch: int, step: int,
                       metrics: Scalars) -> None:
    """Called every `config.eval_every_steps` steps with the metrics of
    the validation subset (`config.eval_subset`)."""

  def at_end(self, state: TrainState) -> None:
    """Called once when the loop stops."""


def format_metrics(metrics: Scalars) -> str:
  """'name value' pairs in name order, 4 significant digits."""
  return ' '.join(f'{k} {v:.4g}' for k, v in sorted(metrics.items()))


class LogLine(Action):
  """One log line per log step and per validation, with images/s and ETA."""

  def __init__(self, total_steps: int, batch_size: int, label: str = ''):
    self.total_steps, self.batch_size = total_steps, batch_size
    self.label = label  # E.g. 'seed 3 ', before each line.

  def every_log(self, epoch, step, metrics):
    shown = dict(metrics)
    rate = shown.pop(names.IMAGES_PER_SEC, float('nan'))
    eta = (time.strftime('%H:%M:%S', time.gmtime(
        (self.total_steps - step) * self.batch_size / rate))
           if rate > 0 else '?')
    logging.info('%sepoch %d step %d | %s | %.1f img/s | ETA %s', self.label,
                 epoch, step, format_metrics(shown), rate, eta)

  def every_epoch(self, state, epoch, metrics):
    logging.info('%sepoch %d validation: %s', self.label, epoch,
                 format_metrics(metrics))


class WriteMetrics(Action):
  """Training and validation records to metrics.jsonl and TensorBoard."""

  def __init__(self, writer: writers.MetricWriter):
    self.writer = writer

  def every_log(self, epoch, step, metrics):
    self.writer.write(names.TRAIN, epoch, step, metrics)

  def every_epoch(self, state, epoch, metrics):
    self.writer.write(names.VALIDATION, epoch, int(state.step), metrics)

  def every_validation(self, state, epoch, step, metrics):
    self.writer.write(names.VALIDATION_STEPS, epoch, step, metrics)

  def at_end(self, state):
    self.writer.close()


class SaveCheckpoint(Action):
  """The state at each epoch end; waits for the last save at the end."""

  def __init__(self, manager: checkpoint.Manager, steps_per_epoch: int,
               optimizer: bool = True):
    self.manager, self.steps_per_epoch = manager, steps_per_epoch
    self.optimizer = optimizer

  def every_epoch(self, state, epoch, metrics):
    checkpoint.save(self.manager, state, self.steps_per_epoch,
                    optimizer=self.optimizer)

  def at_end(self, state):
    self.manager.wait_until_finished()


class SampleGrid(Action):
  """greyscale | colourised | original of fixed validation images, per epoch.

  Every process computes (the step is a collective); process 0 writes.
  """

  def __init__(self, steps: Steps, images: np.ndarray, workdir: str,
               lead: bool):
    self.steps, self.images, self.workdir, self.lead = (steps, images,
                                                        workdir, lead)

  def every_epoch(self, state, epoch, metrics):
    pred = self.steps.colourise(state, self.images)
    if not self.lead:
      return
    original = self.images.astype(np.float32) / 255.0
    scale = self.steps.config.ab_scale
    l, _ = spaces.rgb_uint8_to_model(self.images, scale)
    grey = np.asarray(spaces.model_to_rgb(l, np.zeros(l.shape[:-1] + (2,)),
                                         scale))
    title = (f'epoch {epoch}: val Delta-E '
             f'{metrics[names.val(names.DELTA_E)]:.2f}')
    plots.save_sample_grid(os.path.join(self.workdir,
                                        names.sample_grid(epoch)),
                           grey, pred, original, title)


class Plots(Action):
  """The per-epoch curves of the run, redrawn after each epoch."""

  def __init__(self, workdir: str):
    self.workdir = workdir

  def every_epoch(self, state, epoch, metrics):
    plots.plot_runs({os.path.basename(os.path.normpath(self.workdir)):
                     plots.read_records(self.workdir)},
                    os.path.join(self.workdir, names.PLOTS),
                    plots.read_trivial_answers(self.workdir))


def sample_images(config: ml_collections.ConfigDict,
                  val_images: np.ndarray) -> np.ndarray:
  """The fixed validation images of every epoch's sample grid."""
  n = min(config.num_sample_images, config.batch_size, len(val_images))
  return val_images[np.linspace(0, len(val_images) - 1, n).astype(int)]


def create_actions(config: ml_collections.ConfigDict, workdir: str,
                   steps: Steps, val_images: np.ndarray,
                   manager: checkpoint.Manager, steps_per_epoch: int,
                   label: str = '') -> List[Action]:
  """The actions `config` asks for (`label` starts its log lines). Only
  process 0 writes files."""
  lead = jax.process_index() == 0
  actions: List[Action] = [
      LogLine(config.num_epochs * steps_per_epoch, config.batch_size, label),
      SaveCheckpoint(manager, steps_per_epoch, config.save_optimizer)]
  if lead:
    actions.append(WriteMetrics(writers.MetricWriter(workdir)))
  pictures = extras.available('matplotlib')
  if not pictures and lead:
    logging.warning('sample grids and plots skipped: matplotlib is the '
                    '[plots] extra (pip install "colorjax[plots]"); '
                    '%s has every number.', names.METRICS)
  if config.num_sample_images and pictures:
    actions.append(SampleGrid(steps, sample_images(config, val_images),
                              workdir, lead))
  if lead and pictures:
    actions.append(Plots(workdir))
  return actions


def mean_metrics(fetched: List[Dict[str, np.ndarray]]
                 ) -> Dict[str, np.ndarray]:
  """The mean of each metric over the fetched steps (per seed, if the
  metrics have a seed axis)."""
  return {k: np.mean([m[k] for m in fetched], axis=0) for k in fetched[0]}
