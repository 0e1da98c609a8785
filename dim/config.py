"""The commands' configs: ``configs/<name>.yaml`` composed with overrides (Hydra's Compose API),
every override checked against the config's keys and groups, errors as one line.

A library function that needs a command's config (the quality table composes ``train``) uses
:func:`compose` from here; :mod:`dim.cli` makes the commands themselves.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, Sequence

from omegaconf import DictConfig, OmegaConf

from dim import objectives
from dim.bounds import MINE_ALPHA, SMILE_TAU
from dim.checkpoint import flatten
from dim.errors import ConfigError
from dim.runtime import keep_torch_cache_out_of_tmp

# the configs sit beside the package in a checkout (installed with pip install -e .)
CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"
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
        node = {"name": name, "readout": None if entry is None else entry.readout, "clip": SMILE_TAU,
                "mine_alpha": MINE_ALPHA}
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
    if not CONFIG_DIR.is_dir():
        raise ConfigError(f"no configs/ folder at {CONFIG_DIR}: the commands read it from the checkout; "
                          "install dim from a clone with pip install -e .")  # fmt: skip
    keep_torch_cache_out_of_tmp()
    store_estimators()
    parsed = parse_overrides(overrides)
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


def parse_overrides(overrides: Sequence[str]) -> list:
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    try:
        return OverridesParser.create().parse_overrides(list(overrides))
    except HydraException as error:
        raise ConfigError(one_line(error)) from None


def _hydra_compose(config_name: str, overrides: list[str]) -> DictConfig:
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    try:
        with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base=None):
            return hydra_compose(config_name=config_name, overrides=overrides)
    except (HydraException, OmegaConfBaseException) as error:
        raise ConfigError(f"{one_line(error)} (see configs/{config_name}.yaml for the keys)") from None


def one_line(error: Exception) -> str:
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


