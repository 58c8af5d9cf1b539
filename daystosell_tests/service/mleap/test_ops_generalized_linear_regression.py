"""GeneralizedLinearRegression: eta = x . b + intercept, prediction = family.project(link.unlink(eta))."""

from __future__ import annotations

import math
import sys

import pytest

from daystosell_service.mleap import BundleError

from . import bundle_writer as bw
from .conftest import Build

MAX = sys.float_info.max


def glr(family: str, link: str | None, coefficients: list[float], intercept: float,
        link_port: bool = True, **extra: bw.Json) -> bw.Stage:
    attributes = {"coefficients": bw.tensor(coefficients), "intercept": bw.double(intercept),
                  "family": bw.string(family), **extra}
    if link is not None:
        attributes["link"] = bw.string(link)
    outputs = {"prediction": "y", "link_prediction": "eta"} if link_port else {"prediction": "y"}
    stage = bw.Stage("glr", "generalized_linear_regression", attributes, {"features": "f"}, outputs)
    return bw.pipeline("p", bw.assembler("va", ["a", "b"], "f"), stage)


def predict(build: Build, stage: bw.Stage, a: float, b: float = 0.0) -> tuple[float, float]:
    row = build(stage).transform([{"a": a, "b": b}])[0]
    return row["y"], row.get("eta", math.nan)


@pytest.mark.parametrize(
    ("family", "link", "eta", "expected"),
    [
        ("gaussian", None, 1.5, 1.5),
        ("gaussian", "identity", -2.0, -2.0),
        ("gaussian", "log", 0.0, 1.0),
        ("gaussian", "inverse", 4.0, 0.25),
        ("binomial", None, 0.0, 0.5),  # logit: 1 / (1 + exp(-0))
        ("binomial", "logit", 2.0, 1.0 / (1.0 + 0.1353352832366127)),  # exp(-2)
        ("binomial", "probit", 0.0, 0.5),
        ("binomial", "probit", 1.0, 0.8413447460685429),  # Phi(1)
        ("binomial", "cloglog", 0.0, 1.0 - 0.36787944117144233),  # 1 - exp(-exp(0))
        ("poisson", None, 2.0, 7.38905609893065),  # exp(2)
        ("poisson", "identity", 3.0, 3.0),
        ("poisson", "sqrt", -3.0, 9.0),
        ("gamma", None, 0.5, 2.0),  # inverse
        ("gamma", "identity", 2.0, 2.0),
        ("gamma", "log", 0.0, 1.0),
    ],
)
def test_families_and_links(build: Build, family: str, link: str | None, eta: float, expected: float) -> None:
    # coefficients [2, 0], intercept -> eta = 2a + intercept; a = 0.25 adds 0.5
    y, got_eta = predict(build, glr(family, link, [2.0, 0.0], eta - 0.5), 0.25)
    assert got_eta == eta
    assert y == pytest.approx(expected, rel=1e-15)


def test_projections(build: Build) -> None:
    # binomial clamps to [1e-16, 1 - 1e-16]; poisson/gamma raise to 1e-16; gaussian maps inf to MAX
    assert predict(build, glr("binomial", "logit", [1.0, 0.0], 0.0), -50.0)[0] == 1e-16
    assert predict(build, glr("binomial", "logit", [1.0, 0.0], 0.0), 50.0)[0] == 1.0 - 1e-16
    assert predict(build, glr("poisson", "log", [1.0, 0.0], 0.0), -100.0)[0] == 1e-16
    assert predict(build, glr("poisson", "log", [1.0, 0.0], 0.0), 1000.0)[0] == MAX  # exp overflows
    assert predict(build, glr("gamma", "inverse", [1.0, 0.0], 0.0), -2.0)[0] == 1e-16
    assert predict(build, glr("gaussian", "log", [1.0, 0.0], 0.0), 1000.0)[0] == MAX
    assert predict(build, glr("gaussian", "inverse", [1.0, 0.0], 0.0), -1e-320)[0] == -MAX  # 1 / eta overflows


def test_tweedie_power_link(build: Build) -> None:
    # variance power 1.5, link power default 1 - 1.5 = -0.5: mu = eta ** (1 / -0.5) = eta ** -2
    stage = glr("tweedie", None, [1.0, 1.0], 0.0, variance_power=bw.double(1.5))
    assert predict(build, stage, 2.0, 2.0) == (1.0 / 16.0, 4.0)
    stage = glr("tweedie", "power", [1.0, 0.0], 0.0, variance_power=bw.double(1.5), link_power=bw.double(0.0))
    assert predict(build, stage, 0.0)[0] == 1.0  # link power 0: log link
    stage = glr("tweedie", None, [1.0, 0.0], 0.0, variance_power=bw.double(0.0))  # gaussian + identity
    assert predict(build, stage, -3.0)[0] == -3.0
    stage = glr("tweedie", None, [1.0, 0.0], 0.0, variance_power=bw.double(1.5), link_power=bw.double(0.5))
    assert predict(build, stage, -3.0)[0] == 9.0  # named sqrt link: eta * eta


def test_without_link_port(build: Build) -> None:
    row = build(glr("gaussian", None, [1.0, 2.0], 0.5, link_port=False)).transform([{"a": 1.0, "b": 1.0}])[0]
    assert row["y"] == 3.5
    assert "eta" not in row


def test_bad_attributes(build: Build) -> None:
    with pytest.raises(BundleError, match=r"glr\.node/model\.json: attribute 'family'.*'negbin'"):
        build(glr("negbin", None, [1.0, 0.0], 0.0))
    with pytest.raises(BundleError, match=r"glr\.node/model\.json: attribute 'link'.*'softplus'"):
        build(glr("gaussian", "softplus", [1.0, 0.0], 0.0))
    with pytest.raises(BundleError, match=r"glr\.node/model\.json: attribute 'link_power'.*tweedie"):
        build(glr("gaussian", None, [1.0, 0.0], 0.0, link_power=bw.double(2.0)))
    with pytest.raises(BundleError, match=r"glr\.node/model\.json: attribute 'variance_power'"):
        build(glr("tweedie", None, [1.0, 0.0], 0.0, variance_power=bw.double(0.5)))
    with pytest.raises(BundleError, match=r"glr\.node/model\.json: attribute 'offset'.*unknown"):
        build(glr("gaussian", None, [1.0, 0.0], 0.0, offset=bw.double(1.0)))
    with pytest.raises(BundleError, match=r"stage 'glr'.*3 coefficients but column 'f' has 2"):
        build(glr("gaussian", None, [1.0, 0.0, 1.0], 0.0))
