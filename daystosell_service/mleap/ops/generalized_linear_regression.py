"""GeneralizedLinearRegression (``generalized_linear_regression``).

``eta = dot(features, coefficients) + intercept`` (the ``link_prediction`` port, when present) and
``prediction = family.project(link.unlink(eta))``, as Spark's ``FamilyAndLink.fitted``:

* families (``project``): gaussian maps ±Infinity to ±Double.MaxValue; binomial clamps to
  [1e-16, 1 - 1e-16]; poisson, gamma and tweedie raise values below 1e-16 to 1e-16 and ±Infinity to
  Double.MaxValue;
* links (``unlink``): identity ``eta``; log ``exp(eta)``; logit ``1 / (1 + exp(-1 * eta))``; inverse
  ``1 / eta``; probit the standard normal CDF ``0.5 * (1 + erf(eta / sqrt 2))`` (breeze); cloglog
  ``1 - exp(-1 * exp(eta))``; sqrt ``eta * eta``; power ``pow(eta, 1 / p)`` (``exp`` when p is 0).

MLeap writes only ``family`` and ``link`` names, so it cannot carry a tweedie model's powers; this
runtime reads them from ``variance_power`` (default 0) and ``link_power`` (default 1 - variance
power), and resolves a tweedie family and link the way Spark's ``Family.fromParams`` /
``Link.fromParams`` do. ``link`` defaults to the family's canonical link.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from typing import Any

from .. import blas, javamath
from ..bundle import Node
from ..limits import MAX_VECTOR_SIZE
from .base import DOUBLE, Compiled, Infos, Input, Output, Slots, Stage, check_ports
from .registry import register

EPSILON = 1e-16
_MAX = sys.float_info.max
_SQRT2 = math.sqrt(2.0)

Fn = Callable[[float], float]


def _project_gaussian(mu: float) -> float:
    if mu == -math.inf:
        return -_MAX
    if mu == math.inf:
        return _MAX
    return mu


def _project_binomial(mu: float) -> float:
    if mu < EPSILON:
        return EPSILON
    if mu > 1.0 - EPSILON:
        return 1.0 - EPSILON
    return mu


def _project_tweedie(mu: float) -> float:
    if mu < EPSILON:
        return EPSILON
    if math.isinf(mu):
        return _MAX
    return mu


def _identity(eta: float) -> float:
    return eta


def _log(eta: float) -> float:
    return javamath.exp(eta)


def _logit(eta: float) -> float:
    return 1.0 / (1.0 + javamath.exp(-1.0 * eta))


def _inverse(eta: float) -> float:
    return javamath.div(1.0, eta)


def _probit(eta: float) -> float:
    if eta != eta:
        return eta
    return 0.5 * (1.0 + math.erf(eta / _SQRT2))


def _cloglog(eta: float) -> float:
    return 1.0 - javamath.exp(-1.0 * javamath.exp(eta))


def _sqrt(eta: float) -> float:
    return eta * eta


def _power(p: float) -> Fn:
    if p == 0.0:
        return _log
    inverse = 1.0 / p
    return lambda eta: javamath.pow_(eta, inverse)


FAMILIES: dict[str, tuple[Fn, str]] = {  # name -> (project, canonical link)
    "gaussian": (_project_gaussian, "identity"),
    "binomial": (_project_binomial, "logit"),
    "poisson": (_project_tweedie, "log"),
    "gamma": (_project_tweedie, "inverse"),
}
LINKS: dict[str, Fn] = {
    "identity": _identity,
    "log": _log,
    "logit": _logit,
    "inverse": _inverse,
    "probit": _probit,
    "cloglog": _cloglog,
    "sqrt": _sqrt,
}
# Spark's Link.fromParams for a tweedie family: named links for the usual powers.
_POWER_LINKS = {0.0: "log", 1.0: "identity", -1.0: "inverse", 0.5: "sqrt"}
_TWEEDIE_FAMILIES = {0.0: "gaussian", 1.0: "poisson", 2.0: "gamma"}
_KNOWN = ("coefficients", "intercept", "family", "link", "variance_power", "link_power")


@register("generalized_linear_regression")
class GeneralizedLinearRegression(Stage):
    def __init__(self, node: Node) -> None:
        super().__init__(node)
        attributes = node.attributes
        for name in attributes:
            if name not in _KNOWN:
                raise attributes.error(name, "unknown attribute for op 'generalized_linear_regression' "
                                             f"(expected {list(_KNOWN)})")
        self.coefficients = attributes.double_vector("coefficients")
        if len(self.coefficients) > MAX_VECTOR_SIZE:
            raise attributes.error("coefficients", f"more than {MAX_VECTOR_SIZE} coefficients")
        self.intercept = attributes.double("intercept")
        family = attributes.string("family").lower()
        link = attributes.string("link", "").lower()
        self.project, self.unlink = self._family_and_link(family, link)
        check_ports(node, ["features"], ["prediction"], optional_outputs=["link_prediction"])
        self.inputs = [Input("features", node.inputs["features"], "vector")]
        self.outputs = [Output(port, node.outputs[port]) for port in ("prediction", "link_prediction")
                        if port in node.outputs]

    def _family_and_link(self, family: str, link: str) -> tuple[Fn, Fn]:
        attributes = self.node.attributes
        if family == "tweedie":
            variance_power = attributes.double("variance_power", 0.0)
            if 0.0 < variance_power < 1.0 or not math.isfinite(variance_power):
                raise attributes.error("variance_power", f"must be 0 or >= 1, found {variance_power}")
            project = FAMILIES[_TWEEDIE_FAMILIES[variance_power]][0] if variance_power in _TWEEDIE_FAMILIES \
                else _project_tweedie
            if link and link != "power":
                raise attributes.error("link", f"a tweedie family takes its link from 'link_power', "
                                               f"found link {link!r}")
            link_power = attributes.double("link_power", 1.0 - variance_power)
            if not math.isfinite(link_power):
                raise attributes.error("link_power", f"must be finite, found {link_power}")
            named = _POWER_LINKS.get(link_power)
            return project, LINKS[named] if named is not None else _power(link_power)
        if family not in FAMILIES:
            raise attributes.error("family", f"unknown family {family!r} (expected "
                                             f"{[*FAMILIES, 'tweedie']})")
        for name in ("variance_power", "link_power"):
            if name in attributes:
                raise attributes.error(name, f"only a tweedie family takes {name!r}")
        project, canonical = FAMILIES[family]
        link = link or canonical
        if link not in LINKS:
            raise attributes.error("link", f"unknown link {link!r} (expected {list(LINKS)})")
        return project, LINKS[link]

    def compile(self, slots: Slots, infos: Infos, out_slots: Slots) -> Compiled:
        n = len(self.coefficients)
        info = infos[0]
        if info.size is not None and info.size != n:
            raise self.error(f"{n} coefficients but column {self.inputs[0].column!r} has {info.size} "
                             "features")
        fixed = blas.Coefficients(self.coefficients)
        dot = {"sparse": fixed.sparse, "compressed": fixed.compressed, "dense": fixed.dense}[info.form]
        intercept, project, unlink = self.intercept, self.project, self.unlink
        slot = slots[0]
        ports = [o.port for o in self.outputs]
        out = out_slots[ports.index("prediction")]
        link_out = out_slots[ports.index("link_prediction")] if "link_prediction" in ports else -1

        def step(vals: list[Any]) -> None:
            x = vals[slot]
            if len(x) != n:
                raise self.row_error(f"{len(x)} features for {n} coefficients")
            eta = dot(x) + intercept + 0.0  # Spark adds the offset, 0.0 without an offset column
            vals[out] = project(unlink(eta))
            if link_out >= 0:
                vals[link_out] = eta

        return Compiled(step, [DOUBLE] * len(self.outputs))
