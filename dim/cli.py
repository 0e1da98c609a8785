"""The commands' shell: each command is a Hydra app over its config (:func:`command`), and bad
input is one line on stderr with exit code 2 (:func:`one_line_errors`). Configs are composed and
checked by :mod:`dim.config`."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Sequence

from omegaconf import DictConfig

from dim.config import CONFIG_DIR, one_line, parse_overrides, compose, store_estimators
from dim.errors import ConfigError, DimError
from dim.runtime import keep_torch_cache_out_of_tmp

__all__ = ["EXIT_BAD_INPUT", "check_overrides", "command", "compose", "one_line_errors"]

EXIT_BAD_INPUT = 2


@contextmanager
def one_line_errors(program: str) -> Iterator[None]:
    """Print a :class:`DimError` as ``program: error: ...`` on stderr and exit with code 2."""
    try:
        yield
    except DimError as error:
        print(f"{program}: error: {error}", file=sys.stderr)
        raise SystemExit(EXIT_BAD_INPUT) from None
    except KeyboardInterrupt:
        print(f"{program}: interrupted", file=sys.stderr)
        raise SystemExit(130) from None


# --------------------------------------------------------------------------------------
# commands: Hydra apps with one-line errors
# --------------------------------------------------------------------------------------

HELP_FLAGS = ("--help", "-h")


def check_overrides(config_name: str, argv: Sequence[str]) -> None:
    """Refuse, in one line, what :func:`compose` refuses, for a Hydra command line: flags and
    ``hydra...`` overrides are Hydra's own and pass; a sweep (``seed=0,1,2``) needs ``-m`` and
    is checked through its first value."""
    from hydra.errors import HydraException

    overrides = [a for a in argv if not a.startswith("-")]
    checked = []
    for override in parse_overrides(overrides):
        if override.is_hydra_override():
            continue
        if override.is_sweep_override():
            if not any(a in ("-m", "--multirun") for a in argv):
                raise ConfigError(f"{override.input_line} is a sweep: add -m to run one job per value, or write a "
                                  f"list as {override.key_or_group}=[...]")  # fmt: skip
            try:
                first = next(iter(override.sweep_string_iterator()))
            except HydraException as error:
                raise ConfigError(one_line(error)) from None
            prefix = {"add": "+", "del": "~", "force_add": "++"}.get(override.type.name.lower(), "")
            checked.append(f"{prefix}{override.key_or_group}={first}")
        else:
            checked.append(override.input_line)
    compose(config_name, checked)


def command(program: str, config_name: str, run: Callable[[DictConfig], Any],
            rewrite: Callable[[list[str]], list[str]] | None = None) -> Callable[..., None]:  # fmt: skip
    """``main(argv=None)`` of a command that behaves like a Hydra app over ``configs/<config_name>``.

    ``--help`` lists the config groups and keys, ``--cfg job`` prints the composed config, and
    ``-m``/``--multirun`` runs a sweep (``seed=0,1,2``) through Hydra's launcher (the basic one
    runs the jobs one after another; ``hydra/launcher=submitit_slurm`` sends them to a SLURM
    cluster with the ``cluster`` extra installed). Before Hydra sees it, the command line is
    checked as :func:`compose` checks it, so an unknown key or option, or bad syntax, is one line
    on stderr and exit code 2; so is a :class:`DimError` raised by ``run``. Hydra writes no
    output folder, log file or ``.hydra/`` copy (``configs/hydra/command.yaml``); the
    working directory is not changed. ``rewrite`` maps the command line first (the probe's
    ``encoder=`` is its ``encoder_path``).
    """

    def main(argv: Sequence[str] | None = None) -> None:
        args = list(sys.argv[1:] if argv is None else argv)
        if rewrite is not None:
            args = rewrite(args)
        with one_line_errors(program):
            if not any(a in HELP_FLAGS or a.startswith("--cfg") or a in ("-c",) for a in args):
                check_overrides(config_name, args)
            else:
                keep_torch_cache_out_of_tmp()
                store_estimators()
            _hydra_main(program, config_name, run, args)

    return main


def _hydra_main(program: str, config_name: str, run: Callable[[DictConfig], Any], args: list[str]) -> None:
    import hydra

    def task(cfg: DictConfig) -> Any:
        with one_line_errors(program):
            return run(cfg)

    wrapped = hydra.main(config_path=str(CONFIG_DIR), config_name=config_name, version_base=None)(task)
    flags = [a for a in args if a in ("-m", "--multirun")]  # Hydra's parser wants its flags first
    rest = [a for a in args if a not in flags]
    if not any(a.startswith("hydra.job.name=") for a in rest):
        rest.append(f"hydra.job.name={program}")
    saved = sys.argv
    sys.argv = [program, *flags, *rest]
    try:
        wrapped()
    finally:
        sys.argv = saved
