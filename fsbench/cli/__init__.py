"""The `fsbench` command line: click commands only, each calling one function elsewhere.

One module per family of commands (catalog, data, evaluate, boards); this file holds the group
and `main`, where every user or input error leaves as one line on stderr and exit code 2
(tracebacks only with --debug), because a benchmark toolkit is run in sweeps and scripts, not
read in a debugger.
"""

from __future__ import annotations

import os
import sys
import warnings

import click

from fsbench import __version__
from fsbench.cli import boards, catalog, data, evaluate, predict, sweep, verify
from fsbench.cli.console import err, hints
from fsbench.runtime import prepare_environment


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="fsbench")
@click.option("--debug", is_flag=True, help="Show full tracebacks.")
@click.option("--quiet", "-q", is_flag=True, help="No plan line, progress bars or progress lines (results and errors "
                                                  "still print).")
@click.pass_context
def cli(ctx: click.Context, debug: bool, quiet: bool) -> None:
    """fsbench: signer-independent, low-shot fingerspelling benchmarks."""
    if quiet:  # an environment variable, so worker processes and Ray tasks inherit it
        os.environ["FSBENCH_QUIET"] = "1"
    ctx.obj = {"debug": debug}  # no torch here: what trains calls fsbench.runtime.tune_process itself
    prepare_environment()  # before any command loads torch: OpenMP reads its wait policy only then


for command in (catalog.list_cmd, catalog.info, data.prepare, data.push, evaluate.run, evaluate.demo, evaluate.export,
                boards.publish, boards.withdraw, boards.leaderboard, boards.report, boards.compact, predict.predict, sweep.sweep,
                verify.verify):
    cli.add_command(command)


def main() -> None:
    """Run the CLI; any failure leaves as one line on stderr and an exit code (fsbench.cli.failures)."""
    from fsbench.cli.failures import last_resort, on_sigterm, one_line, one_line_warnings

    debug = "--debug" in sys.argv
    warnings.filterwarnings("default", category=UserWarning, module="fsbench")
    on_sigterm()
    one_line_warnings(debug)
    try:
        cli.main(standalone_mode=False)
    except BaseException as exc:  # noqa: BLE001 - the one place every failure is turned into a line
        if debug and not isinstance(exc, (click.ClickException, click.exceptions.Abort)):
            raise
        try:
            message, code = one_line(exc)
            err.print(f"error: {hints(' '.join(message.splitlines()))}", markup=False, highlight=False, soft_wrap=True)
        except BaseException:  # noqa: BLE001 - the handler itself failed (out of memory again): a fixed line
            message, code = last_resort(exc)
            try:
                sys.stderr.write(f"error: {message}\n")
                sys.stderr.flush()
            except BaseException:  # noqa: BLE001 - not even stderr: the exit code still says it
                pass
        sys.exit(code)
