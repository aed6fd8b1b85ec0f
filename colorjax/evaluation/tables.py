"""The Markdown tables of evaluation reports: a row per model or trivial
answer, a column per metric (`COLUMNS`), and `format_report`, what
`colorjax evaluate` prints. `compare` and the seed report print
their tables with the same columns."""

from typing import Dict

import numpy as np

from colorjax import files
from colorjax import names
from colorjax.evaluation import hint_eval
from colorjax.hints import locality

__all__ = ['COLUMNS', 'format_cell', 'format_report', 'format_table',
           'metric_cells', 'metric_headers']

# Columns of the printed table: (metric, header, format).
COLUMNS = (
    (names.DELTA_E, 'Delta-E00 (lower)', '{:.2f}'),
    (names.LAB_ACC_TERM, 'LAB acc term', '{:.1%}'),
    (names.LAB_ACC_NAZERI, 'LAB acc 2%', '{:.1%}'),
    (names.AB_AUC, 'ab AUC', '{:.3f}'),
    (names.PSNR, 'PSNR dB', '{:.2f}'),
    (names.SSIM, 'SSIM', '{:.3f}'),
    (names.COLOURFULNESS_RATIO, 'colourful/true', '{:.2f}'),
    (names.DELTA_CF, 'dCF (lower)', '{:.1f}'),
    (names.AB_SWD, 'ab SWD (lower)', '{:.2f}'),
    (names.MEAN_ABS_DL, 'mean abs dL', '{:.2f}'),
)


def metric_headers() -> str:
  """The COLUMNS headers as Markdown cells: 'a | b | ...'."""
  return ' | '.join(h for _, h, _ in COLUMNS)


def format_cell(value: float, fmt: str) -> str:
  return 'n/a' if np.isnan(value) else fmt.format(value)


def metric_cells(values: Dict[str, float], prefix: str = '') -> str:
  """`values[prefix + metric]` formatted as Markdown cells, in COLUMNS order
  ('-' for a metric the values predate)."""
  return ' | '.join('-' if prefix + k not in values else
                    format_cell(values[prefix + k], fmt)
                    for k, _, fmt in COLUMNS)


def format_table(results: Dict[str, Dict[str, float]]) -> str:
  """A Markdown table: one row per model / trivial answer."""
  lines = [f'| | {metric_headers()} |', '|---' * (len(COLUMNS) + 1) + '|']
  for name, values in results.items():
    lines.append(f'| {name} | {metric_cells(values)} |')
  return '\n'.join(lines)


def format_report(report: Dict[str, object]) -> str:
  """The report's tables with a line saying what each scored."""
  head = (f'{files.display_path(report["dataset"])} ({report["split"]}, '
          f'{report["num_images"]} images), epoch {report["epoch"]}, '
          f'vibrance {report["vibrance"]}')
  if report.get('temperature') is not None:
    head += f', temperature {report["temperature"]}'
  text = (f'{head}\nat {report["image_size"]}px (centre crops):\n'
          f'{format_table(report["results"])}')
  if 'full_res_results' in report:
    counted = f'{report["full_res_num_images"]} images'
    if report.get('full_res_out_of_memory'):
      counted += (f', {report["full_res_out_of_memory"]} left out: out of '
                  'memory')
    text += (f'\nat full resolution (through colorize, {counted}):\n'
             f'{format_table(report["full_res_results"])}')
  for key, label in (('at_size', f'at {report["image_size"]}px'),
                     ('full_res', 'at full resolution')):
    if key in report.get('hints', {}):
      results = report['hints'][key]
      for metric, name in ((names.DELTA_E, 'Delta-E00 (lower is better)'),
                           (names.COLOURFULNESS_RATIO, 'colourfulness ratio'),
                           (names.PSNR, 'PSNR dB'),
                           (names.MEAN_ABS_DL, 'mean abs dL')):
        text += (f'\nwith simulated hints, {label}, {name}:\n'
                 f'{hint_eval.table(results, metric)}')
  if report.get('person_hints'):
    text += ('\nwith hints placed as a person would (most colourful patches),'
             f' at {report["image_size"]}px, Delta-E00 near and far from '
             'them:\n' + locality.table(
                 {int(n): r for n, r in report['person_hints'].items()}))
  return text
