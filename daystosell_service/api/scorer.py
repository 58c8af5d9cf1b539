"""The loaded model as the API sees it: the MLeap pipeline, its version and the digest of its bundle.

Everything that can be wrong with a bundle is found here, at startup, so a service that became ready can
score any advert that passed validation.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from daystosell_service import explain
from daystosell_service.api.request_context import count_predictions
from daystosell_service.api.schemas import Advert, model_feature_types
from daystosell_service.golden import GOLDEN_FILE, GoldenReport, compare, read_golden
from daystosell_service.mleap import BundleError, MleapModel, TransformError, load_bundle

PREDICTION_COLUMN = "prediction"
SIDECAR_NAME = "model.json"
_CHUNK = 1 << 20
# Batches from this many adverts go through the runtime's columnar path (measured crossover, see README).
COLUMNAR_FROM = 16


class StartupError(RuntimeError):
    """The bundle cannot be served: the message says why, for the operator who started the service."""


class ScoringError(RuntimeError):
    """The model produced something that is not a usable prediction: a fault of the bundle, not the caller."""


class UnscorableAdvertError(ValueError):
    """An advert passed validation but the model refuses it, e.g. a category it was told to reject or skip."""


class ContributionsUnavailableError(RuntimeError):
    """This bundle cannot explain its predictions: the message says why (no golden rows, too many inputs)."""


@dataclass(frozen=True)
class Baseline:
    """The typical advert that contributions are measured against: chosen at load from the golden rows
    (``explain.choose_baseline``: numeric medians, most frequent categories)."""

    inputs: dict[str, Any]  # a model row: numbers as floats
    prediction: float
    golden_rows: int
    source: str  # the golden rows' file


@dataclass(frozen=True)
class Scorer:
    model: MleapModel
    model_version: str
    bundle_digest: str
    # Model input column -> MLeap type, in the bundle's order.
    input_schema: dict[str, str]
    # model.json beside the bundle as written (empty without one): trained_at, metrics, ...
    sidecar: Mapping[str, Any] = field(default_factory=dict)
    baseline: Baseline | None = None
    # Why ``baseline`` is None, for the caller who asks for contributions.
    no_baseline: str = "no golden rows were given"

    @classmethod
    def load(cls, bundle_path: Path, golden_path: Path | None = None) -> Scorer:
        """Load the bundle, its sidecar and, from ``golden_path`` (by default the golden rows beside the
        bundle), the baseline that contributions are measured against."""
        if not bundle_path.exists():
            raise StartupError(f"MLeap bundle not found: {bundle_path}")
        digest = bundle_digest(bundle_path)
        try:
            model = load_bundle(bundle_path)
        except BundleError as exc:
            raise StartupError(f"cannot load MLeap bundle {bundle_path}: {exc}") from exc
        input_schema = dict(model.input_schema)
        check_input_schema(input_schema)
        if PREDICTION_COLUMN not in model.output_columns:
            raise StartupError(
                f"MLeap bundle {bundle_path} has no {PREDICTION_COLUMN!r} output column "
                f"(it outputs {list(model.output_columns)})"
            )
        sidecar = read_sidecar(bundle_path)
        version = sidecar_version(bundle_path, sidecar) or str(model.info.uid)
        scorer = cls(
            model=model, model_version=version, bundle_digest=digest, input_schema=input_schema, sidecar=sidecar
        )
        return scorer.with_baseline(golden_path or bundle_path.parent / GOLDEN_FILE)

    def with_baseline(self, golden_path: Path) -> Scorer:
        """This scorer with a baseline chosen from the golden rows at ``golden_path``, or with the reason
        there is none. Golden rows that cannot be used only make contributions unavailable here: whether they
        stop startup is for the golden check to say, with its own message."""
        k = len(self.input_schema)
        if k > explain.MAX_INPUTS:
            reason = f"the model has {k} inputs; exact contributions are computed for at most {explain.MAX_INPUTS}"
            return replace(self, no_baseline=reason)
        if not golden_path.is_file():
            return replace(self, no_baseline=f"there are no golden rows ({golden_path} not found)")
        try:
            rows = read_golden(golden_path)
            inputs = explain.choose_baseline([row.inputs for row in rows], self.input_schema)
            [prediction] = self.predict_rows([inputs], columnar=True)
        except (OSError, ValueError, TypeError, ScoringError) as exc:
            return replace(self, no_baseline=f"cannot choose a baseline advert from {golden_path}: {exc}")
        baseline = Baseline(inputs=inputs, prediction=prediction, golden_rows=len(rows), source=str(golden_path))
        return replace(self, baseline=baseline)

    def predict(self, adverts: Sequence[Advert]) -> list[float]:
        return self.predict_rows(self.model_row(advert) for advert in adverts)

    def model_row(self, advert: Advert) -> dict[str, Any]:
        # Only the columns the pipeline reads, numbers as floats: the bundle declares them as doubles.
        return {
            column: float(getattr(advert, column)) if kind == "double" else getattr(advert, column)
            for column, kind in self.input_schema.items()
        }

    def predict_rows(self, rows: Iterable[dict[str, Any]], columnar: bool | None = None) -> list[float]:
        """Predictions for model rows: through the runtime's columnar path for batches of
        ``COLUMNAR_FROM`` rows or more (or when ``columnar``), its row path otherwise."""
        batch = list(rows)
        try:
            if columnar if columnar is not None else len(batch) >= COLUMNAR_FROM:
                columns = {c: [row[c] for row in batch] for c in self.input_schema}
                predictions = self.model.transform_columns(columns, select=[PREDICTION_COLUMN]).columns[
                    PREDICTION_COLUMN].tolist()
            else:
                predictions = [float(row[PREDICTION_COLUMN])
                               for row in self.model.transform(batch, select=[PREDICTION_COLUMN])]
        except TransformError as exc:
            raise UnscorableAdvertError(str(exc)) from exc
        if len(predictions) != len(batch):
            # The runtime drops only the rows a stage with handle_invalid="skip" cannot score.
            raise UnscorableAdvertError(
                f"the model skipped {len(batch) - len(predictions)} of {len(batch)} adverts as invalid"
            )
        # JSON has no NaN or infinity: msgspec would send null where the contract promises a number.
        bad = [i for i, p in enumerate(predictions) if not math.isfinite(p)]
        if bad:
            raise ScoringError(f"the model predicted NaN or infinity for rows {bad[:10]} of {len(batch)}")
        count_predictions(len(predictions))
        return predictions

    def predict_columns(self, columns: Mapping[str, Any], rows: int) -> np.ndarray:
        """Predictions for ``rows`` model rows held as columns, in one call to the runtime's columnar path."""
        try:
            predictions = self.model.transform_columns(columns, select=[PREDICTION_COLUMN]).columns[
                PREDICTION_COLUMN]
        except TransformError as exc:
            raise UnscorableAdvertError(str(exc)) from exc
        if len(predictions) != rows:
            raise UnscorableAdvertError(
                f"the model skipped {rows - len(predictions)} of {rows} rows as invalid"
            )
        if not np.isfinite(predictions).all():
            bad = np.flatnonzero(~np.isfinite(predictions))
            raise ScoringError(f"the model predicted NaN or infinity for rows {bad[:10].tolist()} of {rows}")
        return np.asarray(predictions, dtype=np.float64)

    def explain(self, adverts: Sequence[Advert]) -> list[explain.Explanation]:
        """Each advert's exact Shapley contributions against the baseline, every coalition of every advert
        scored in one columnar call."""
        if self.baseline is None:
            raise ContributionsUnavailableError(self.no_baseline)
        columns = list(self.input_schema)
        return explain.explain(
            lambda batch: self.predict_columns(batch, len(batch[columns[0]])),
            [self.model_row(advert) for advert in adverts],
            self.baseline.inputs,
            columns,
        )

    def check_golden(self, golden_path: Path) -> GoldenReport:
        """Score the golden rows written with the bundle and fail unless every prediction matches Spark's."""
        try:
            rows = read_golden(golden_path)
        except (OSError, ValueError) as exc:
            raise StartupError(f"cannot read golden rows: {exc}") from exc
        if not rows:
            raise StartupError(f"{golden_path} holds no golden rows")
        missing = sorted({c for row in rows for c in self.input_schema if c not in row.inputs})
        if missing:
            raise StartupError(f"golden rows in {golden_path} lack the model inputs {missing}")
        try:
            inputs = [
                {
                    c: float(row.inputs[c]) if kind == "double" else row.inputs[c]
                    for c, kind in self.input_schema.items()
                }
                for row in rows
            ]
            # Both paths, so readiness also means the columnar path's kernels are compiled and exact.
            report = compare(rows, self.predict_rows(inputs, columnar=False))
            if report.passed:
                report = compare(rows, self.predict_rows(inputs, columnar=True))
        except (ScoringError, UnscorableAdvertError, ValueError, TypeError) as exc:
            raise StartupError(f"cannot score the golden rows in {golden_path}: {exc}") from exc
        if not report.passed:
            raise StartupError(
                f"the bundle does not reproduce the golden rows in {golden_path}: {report.summary()}"
            )
        return report


def check_input_schema(input_schema: dict[str, str]) -> None:
    """Fail unless every column the pipeline reads is an Advert field of a matching type."""
    features = model_feature_types()
    problems = []
    for column, kind in input_schema.items():
        if column not in features:
            problems.append(f"{column!r} ({kind}) is not a field of an advert")
        elif features[column] != kind:
            problems.append(f"{column!r} is a {kind} in the bundle but the advert gives a {features[column]}")
    if problems:
        raise StartupError(
            "the MLeap bundle's inputs do not match the adverts the API accepts: "
            + "; ".join(problems)
            + f". Advert fields: {sorted(features)}"
        )


def bundle_digest(path: Path) -> str:
    """sha256 of a zip bundle's bytes, or of a directory bundle's files in sorted path order.

    For a directory each file contributes its relative path, a NUL, its size and its bytes, so that moving
    bytes from one file to another, or renaming a file, changes the digest.
    """
    digest = hashlib.sha256()
    if path.is_dir():
        files = sorted(
            (p for p in path.rglob("*") if p.is_file()), key=lambda p: p.relative_to(path).as_posix()
        )
        for file in files:
            digest.update(file.relative_to(path).as_posix().encode() + b"\0")
            digest.update(file.stat().st_size.to_bytes(8, "big"))
            for chunk in _chunks(file):
                digest.update(chunk)
    else:
        for chunk in _chunks(path):
            digest.update(chunk)
    return f"sha256:{digest.hexdigest()}"


def _chunks(path: Path) -> Iterator[bytes]:
    # Bundles can be hundreds of megabytes: never hold one in memory just to hash it.
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            yield chunk


def read_sidecar_version(bundle_path: Path) -> str | None:
    """The model version from the ``model.json`` beside the bundle, or None when there is no such file.

    A sidecar that exists but cannot be read is an error, not a reason to report another version.
    """
    return sidecar_version(bundle_path, read_sidecar(bundle_path))


def read_sidecar(bundle_path: Path) -> dict[str, Any]:
    """The ``model.json`` beside the bundle as a dict, empty when there is no such file."""
    sidecar = bundle_path.parent / SIDECAR_NAME
    if not sidecar.is_file():
        return {}
    try:
        meta = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StartupError(f"cannot read {sidecar}: {exc}") from exc
    if not isinstance(meta, dict) or not meta:
        raise StartupError(f"{sidecar} has no non-empty string 'model_version'")
    return meta


def sidecar_version(bundle_path: Path, meta: Mapping[str, Any]) -> str | None:
    if not meta:
        return None
    version = meta.get("model_version")
    if not isinstance(version, str) or not version:
        raise StartupError(f"{bundle_path.parent / SIDECAR_NAME} has no non-empty string 'model_version'")
    return version
