"""`python -m colorjax COMMAND`: the same as the `colorjax` command."""

from colorjax import cli

if __name__ == '__main__':
  cli.main()
