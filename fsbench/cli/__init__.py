"""The `fsbench` command line: click commands only, each calling one function elsewhere.

One module per family of commands (catalog, data, evaluate, boards); this file holds the group
and `main`, where every user or input error leaves as one line on stderr and exit code 2
(tracebacks only with --debug), because a benchmark toolkit is run in sweeps and scripts, not
read in a debugger.
"""

from __future__ import annotations

import sys
import warnings

import click

from fsbench import __version__
from fsbench.cli import boards, catalog, data, evaluate
from fsbench.cli.console import err
from fsbench.errors import FsbenchError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="fsbench")
@click.option("--debug", is_flag=True, help="Show full tracebacks.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """fsbench: signer-independent, low-shot fingerspelling benchmarks."""
    ctx.obj = {"debug": debug}  # no torch here: what trains calls fsbench.runtime.tune_process itself


for command in (catalog.list_cmd, catalog.info, data.prepare, evaluate.run, evaluate.demo, evaluate.export,
                boards.publish, boards.leaderboard, boards.report, boards.compact):
    cli.add_command(command)


def main() -> None:
    debug = "--debug" in sys.argv
    warnings.filterwarnings("default", category=UserWarning, module="fsbench")
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        err.print("aborted")
        sys.exit(130)
    except click.ClickException as exc:
        err.print(f"error: {exc.format_message()}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(2)
    except FsbenchError as exc:
        if debug:
            raise
        err.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        err.print("interrupted; completed results were already written atomically")
        sys.exit(130)
