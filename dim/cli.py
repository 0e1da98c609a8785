"""Shared command-line glue: compose a Hydra config, and turn bad input into one line and exit 2."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence

from omegaconf import DictConfig, OmegaConf

from dim.errors import ConfigError, DimError

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"
EXIT_BAD_INPUT = 2


def compose(config_name: str, overrides: Sequence[str]) -> DictConfig:
    """Compose ``configs/<config_name>.yaml`` with command-line overrides (Hydra's Compose API).

    Hydra's own errors (unknown key, unknown group option, bad override syntax) become
    :class:`ConfigError` with one line of text. No output directory is created.
    """
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    try:
        with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base=None):
            cfg = hydra_compose(config_name=config_name, overrides=list(overrides))
    except (HydraException, OmegaConfBaseException) as error:
        message = " ".join(str(error).split())
        raise ConfigError(f"{message} (see configs/{config_name}.yaml for the keys)") from None
    missing = sorted(OmegaConf.missing_keys(cfg))
    if missing:
        raise ConfigError(f"missing required setting(s): {', '.join(missing)}; pass them as key=value")
    return cfg


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
