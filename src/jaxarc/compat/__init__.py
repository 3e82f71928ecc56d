"""Adapters to the JAX RL ecosystem's environment interfaces.

- :mod:`jaxarc.compat.gymnax`: a ``gymnax.environments.environment.Environment`` (the
  interface of PureJaxRL, rejax, purejaxql): ``pip install "jaxarc[gymnax]"``.
- :mod:`jaxarc.compat.jumanji`: a ``jumanji.Environment`` (Stoix, Mava, the upstream JaxARC
  baselines): ``pip install "jaxarc[jumanji]"``.

Each is imported on its own, so that either works without the other's package.
"""

from __future__ import annotations

import importlib.util


def require(module: str, extra: str) -> None:
    """Raise one ``ImportError`` line naming the extra to install when ``module`` is missing."""
    if importlib.util.find_spec(module) is None:
        raise ImportError(
            f"jaxarc.compat.{extra} needs the {module} package: pip install 'jaxarc[{extra}]'"
        )
