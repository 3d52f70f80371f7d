"""The one command-line entry point, ``fraudstream``.

Each command group lives in its own module and is registered below. Commands load settings
lazily through :class:`CliContext`, so ``--help`` works even when settings are invalid, and an
expected failure (:class:`~fraudstream.errors.FraudstreamError`) prints one line and exits 1.
"""

from __future__ import annotations

from typing import Any

import click

from fraudstream import __version__
from fraudstream.cli.context import CliContext
from fraudstream.errors import FraudstreamError
from fraudstream.settings import SETTINGS_FILE_ENV


class _Group(click.Group):
    """A group that turns expected failures into a one-line error and exit status 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except FraudstreamError as error:
            raise click.ClickException(str(error)) from error


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--settings",
    "settings_file",
    type=click.Path(dir_okay=False),
    envvar=SETTINGS_FILE_ENV,
    show_envvar=True,
    help="Dotenv-style file of FRAUDSTREAM_* settings (environment variables win).",
)
@click.version_option(__version__, prog_name="fraudstream")
@click.pass_context
def cli(ctx: click.Context, settings_file: str | None) -> None:
    """Fraudstream: real-time card-fraud detection on Kinesis, Spark and SageMaker.

    Every setting is an environment variable prefixed FRAUDSTREAM_ (see docs/settings.md);
    AWS_ENDPOINT_URL points every AWS call at an emulator or LocalStack.
    """
    ctx.obj = CliContext(settings_file=settings_file)


def _register() -> None:
    from fraudstream.cli import (
        alerts,
        dashboard,
        demo,
        lake,
        model,
        process,
        produce,
        rules,
        stack,
    )

    commands = [
        stack.stack,
        produce.produce,
        produce.replay,
        produce.generate,
        produce.stream,
        demo.demo,
        process.process,
        dashboard.dashboard,
        alerts.alerts,
        lake.lake,
        rules.rules,
        model.train,
        model.backtest,
        model.serve_model,
        model.model,
    ]
    for command in commands:
        cli.add_command(command)


_register()


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="fraudstream")
