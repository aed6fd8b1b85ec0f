"""`colorjax COMMAND`: one command for every tool."""

import importlib
import subprocess
import sys

import pytest
from tiny import ROOT
from tiny import subprocess_env

from colorjax import cli


def _run(*args, timeout=180):
  return subprocess.run([sys.executable, '-m', 'colorjax', *args], cwd=ROOT,
                        capture_output=True, text=True, timeout=timeout,
                        env=subprocess_env())


def test_help_lists_every_command_with_one_line():
  result = _run('--help')
  assert result.returncode == 0
  lines = result.stdout.splitlines()
  for name in ('colorize', 'train', 'evaluate', 'gallery', 'compare', 'page',
               'import-torch', 'export-torch', 'export-pretrained',
               'download'):
    (line,) = [l for l in lines if l.split()[:1] == [name]]
    assert len(line.split()) > 3, line  # The name and what it does.


def test_every_command_names_a_tool_with_a_cli_entry():
  modules = [m for m, _ in cli.COMMANDS.values() if m]
  modules += list(cli.DOWNLOADS.values())
  for name in modules:
    module = importlib.import_module(name)
    assert callable(module.cli), name
    assert (module.__doc__ or '').strip(), name


@pytest.mark.parametrize('args, says', [
    (('colorize', '--help'), 'colorjax colorize'),
    (('train', '--help'), 'Recipes (--config='),
    (('download', 'paintings_more', '--help'),
     'colorjax download paintings_more'),
])
def test_a_command_gives_its_own_help(args, says):
  result = _run(*args)
  assert result.returncode == 0, result.stderr[-1000:]
  assert says in result.stdout
  assert '--' in result.stdout  # Its own flags follow.


@pytest.mark.parametrize('args, says', [
    (('paint',), "unknown command 'paint'"),
    (('download',), 'takes a data set first'),
    (('download', 'cifar',), 'takes a data set first'),
])
def test_a_wrong_command_is_one_line(args, says):
  result = _run(*args, timeout=60)
  assert result.returncode == 2 and 'Traceback' not in result.stderr
  (line,) = result.stderr.strip().splitlines()
  assert says in line and line.startswith('error:')


def test_a_tool_runs_through_the_command(tmp_path):
  # The bundled model colours the bundled painting, through `colorjax`.
  result = _run('colorize', 'colorjax/data/shishkin_rye.jpg',
                f'--output={tmp_path}', timeout=300)
  assert result.returncode == 0, result.stderr[-2000:]
  assert (tmp_path / 'shishkin_rye.png').is_file()
