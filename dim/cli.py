"""Shared command-line glue: compose a Hydra config, and turn bad input into one line and exit 2."""

from __future__ import annotations

import difflib
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from omegaconf import DictConfig, OmegaConf

from dim import objectives
from dim.checkpoint import flatten
from dim.errors import ConfigError, DimError
from dim.runtime import keep_torch_cache_out_of_tmp

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"
EXIT_BAD_INPUT = 2
# config groups that a command line adds with ``+group=option`` (their options set keys of the
# whole config, ``# @package _global_``): the paper presets of configs/experiment/ and the
# GAN set-ups of configs/gan/
PRESET_GROUPS = ("experiment", "gan")
# the estimator group's options come from the registry (dim.objectives), not from files; "auto"
# is estimate_mi's own choice, offered to that command only
ESTIMATOR_GROUP = "estimator"
AUTO_CONFIGS = ("estimate_mi",)


def store_estimators() -> None:
    """Put one ``estimator/<name>`` config per registered estimator into Hydra's ConfigStore.

    Each holds the name, the readout its MI is reported through (null for auto: it picks), SMILE's
    ``clip`` tau and MINE's ``mine_alpha`` rate. Called by :func:`compose`, so an estimator
    registered at run time is a choice of every command.
    """
    from hydra.core.config_store import ConfigStore

    store = ConfigStore.instance()
    for name, entry in {**objectives.ESTIMATORS, "auto": None}.items():
        node = {"name": name, "readout": None if entry is None else entry.readout, "clip": 5.0, "mine_alpha": 0.01}
        store.store(group=ESTIMATOR_GROUP, name=name, node=node)


def group_options(config_name: str, group: str) -> list[str]:
    """The options of a config group that command ``config_name`` accepts."""
    if group == ESTIMATOR_GROUP:
        return [*objectives.ESTIMATORS, *(["auto"] if config_name in AUTO_CONFIGS else [])]
    return sorted(p.stem for p in (CONFIG_DIR / group).glob("*.yaml"))


def _is_group(key: str) -> bool:
    return key == ESTIMATOR_GROUP or (CONFIG_DIR / key).is_dir()


def compose(config_name: str, overrides: Sequence[str]) -> DictConfig:
    """Compose ``configs/<config_name>.yaml`` with command-line overrides (Hydra's Compose API).

    Every override must name an existing key or group option, with or without Hydra's ``+``
    (a ``+key`` Hydra would add to the config is a typo that no code reads): an unknown one is a
    :class:`ConfigError` naming the nearest valid key or the valid options. Hydra's own errors
    (bad override syntax, wrong value type) become one line too. No output directory is created.
    Also points torch's compiler cache away from the system temp directory (see
    :func:`keep_torch_cache_out_of_tmp`).
    """
    keep_torch_cache_out_of_tmp()
    store_estimators()
    parsed = _parse(overrides)
    is_group = [_is_group(o.key_or_group) and o.package is None for o in parsed]
    groups = _default_groups(config_name)
    for override in (o for o, group in zip(parsed, is_group) if group):
        _check_group_option(config_name, override.key_or_group, override.value(), groups, override.is_add())
    # the config as the chosen group options make it: the keys that the other overrides may set
    chosen = [o.input_line for o, group in zip(parsed, is_group) if group]
    reference = flatten(OmegaConf.to_container(_hydra_compose(config_name, chosen), resolve=False))
    for override in (o for o, group in zip(parsed, is_group) if not group and not o.is_delete()):
        if not _has_key(reference, override.key_or_group):
            raise ConfigError(_unknown_key_message(override.key_or_group, reference, config_name))
    cfg = _hydra_compose(config_name, list(overrides))
    missing = sorted(OmegaConf.missing_keys(cfg))
    if missing:
        raise ConfigError(f"missing required setting(s): {', '.join(missing)}; pass them as key=value")
    return cfg


def _parse(overrides: Sequence[str]) -> list:
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    try:
        return OverridesParser.create().parse_overrides(list(overrides))
    except HydraException as error:
        raise ConfigError(_one_line(error)) from None


def _hydra_compose(config_name: str, overrides: list[str]) -> DictConfig:
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    try:
        with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base=None):
            return hydra_compose(config_name=config_name, overrides=overrides)
    except (HydraException, OmegaConfBaseException) as error:
        raise ConfigError(f"{_one_line(error)} (see configs/{config_name}.yaml for the keys)") from None


def _one_line(error: Exception) -> str:
    """Hydra's message on one line, without its config search path dump."""
    return " ".join(str(error).split("Config search path:")[0].split())


def _default_groups(config_name: str) -> set[str]:
    """The config groups in ``configs/<config_name>.yaml``'s defaults list."""
    defaults = OmegaConf.load(CONFIG_DIR / f"{config_name}.yaml").get("defaults", [])
    return {key for entry in defaults if isinstance(entry, DictConfig) for key in entry}


def _check_group_option(config_name: str, group: str, option: Any, groups: set[str], added: bool) -> None:
    """A one-line error unless ``group=option`` selects an existing option of a group this config uses."""
    if group not in groups and not (added and group in PRESET_GROUPS):
        hint = f"; presets are added with +{group}=NAME" if group in PRESET_GROUPS else ""
        raise ConfigError(f"{config_name} has no {group!r} setting{hint} (see configs/{config_name}.yaml for the keys)")
    options = group_options(config_name, group)
    if option not in options:
        raise ConfigError(f"unknown {group} {option!r}; choose among {', '.join(options)}")


def _has_key(keys: dict[str, Any], dotted: str) -> bool:
    """Whether ``dotted`` is a key of the flattened config ``keys``, or a node above some."""
    return dotted in keys or any(key.startswith(dotted + ".") for key in keys)


def _unknown_key_message(key: str, keys: dict[str, Any], config_name: str) -> str:
    """``unknown key 'stepz'; did you mean 'training.steps'?``: the nearest key by its whole
    dotted name, else by its last part."""
    paths = list(keys)
    nearest = difflib.get_close_matches(key, paths, n=1)
    if not nearest:
        by_leaf = {path.rsplit(".", 1)[-1]: path for path in reversed(paths)}
        nearest = [by_leaf[leaf] for leaf in difflib.get_close_matches(key.rsplit(".", 1)[-1], by_leaf, n=1)]
    hint = f"; did you mean {nearest[0]!r}?" if nearest else ""
    return f"unknown key {key!r}{hint} (see configs/{config_name}.yaml for the keys)"


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
    for override in _parse(overrides):
        if override.is_hydra_override():
            continue
        if override.is_sweep_override():
            if not any(a in ("-m", "--multirun") for a in argv):
                raise ConfigError(f"{override.input_line} is a sweep: add -m to run one job per value, or write a "
                                  f"list as {override.key_or_group}=[...]")  # fmt: skip
            try:
                first = next(iter(override.sweep_string_iterator()))
            except HydraException as error:
                raise ConfigError(_one_line(error)) from None
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
