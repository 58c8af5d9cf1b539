"""The one Definitions of the daystosell code location."""

from __future__ import annotations

import os
import warnings
from typing import Any

from dagster import (
    BetaWarning,
    Definitions,
    EnvVar,
    FilesystemIOManager,
    in_process_executor,
    load_assets_from_modules,
    with_source_code_references,
)

from daystosell_assets.defs import automation, bundle, features, model, predictions, release, sources
from daystosell_assets.resources import lake_resources


def registry_resource(env: dict[str, str] | None = None) -> release.RegistryResource:
    """``DAYSTOSELL_REGISTRY`` (default: the local registry on loopback) and its repository; the
    credentials as ``EnvVar``s, so their values never show in the UI or the run config."""
    env = dict(os.environ) if env is None else env
    settings: dict[str, Any] = {}
    if address := env.get("DAYSTOSELL_REGISTRY"):
        settings["address"] = address
    if repository := env.get("DAYSTOSELL_REGISTRY_REPOSITORY"):
        settings["repository"] = repository
    if tls := env.get("DAYSTOSELL_REGISTRY_TLS_VERIFY"):
        settings["tls_verify"] = tls.lower() in ("1", "true", "yes")
    for field in ("username", "password"):
        variable = f"DAYSTOSELL_REGISTRY_{field.upper()}"
        if env.get(variable):
            settings[field] = EnvVar(variable)
    return release.RegistryResource(**settings)


def rollout_resource(env: dict[str, str] | None = None) -> release.RolloutResource:
    """``DAYSTOSELL_ROLLOUT=kubernetes`` applies to the cluster of ``KUBECONFIG`` (context
    ``DAYSTOSELL_KUBE_CONTEXT``); the default runs the environments as local containers."""
    env = dict(os.environ) if env is None else env
    if env.get("DAYSTOSELL_ROLLOUT", "local") == "kubernetes":
        return release.KubernetesRolloutResource(kubeconfig=env.get("KUBECONFIG"),
                                                 context=env.get("DAYSTOSELL_KUBE_CONTEXT"))
    return release.LocalRolloutResource()


def training_assets() -> list[Any]:
    return [*load_assets_from_modules([sources, features, model, bundle, predictions])]


def training_checks() -> list[Any]:
    return [*sources.source_checks, *features.training_set_checks, model.fitted_model_gate]


def training_graph() -> list[Any]:
    """The assets and checks from the lake to the bundle and the live adverts' scores (the ``retrain``
    job's); the release chain after them needs containers, a registry and a rollout target."""
    return [*training_assets(), *training_checks()]


def linked_to_source(assets: list[Any]) -> list[Any]:
    """Each asset's page in the UI links to the code that makes it. The API is beta in Dagster 1.13; its
    warning, once per asset at every load, would only bury the log lines that matter."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BetaWarning)
        return list(with_source_code_references(assets))


def make_definitions(**resources: Any) -> Definitions:
    """The code location, with ``resources`` in place of the defaults (tests point the release chain at
    their own registry and ports this way)."""
    return Definitions(
        assets=linked_to_source([*training_assets(), *release.RELEASE_ASSETS]),
        asset_checks=[*training_checks(), *release.RELEASE_CHECKS],
        jobs=[automation.retrain, release.release],
        sensors=[automation.raw_lake_sensor, release.mleap_bundle_sensor],
        schedules=[automation.weekly_retrain],
        resources={**lake_resources(), "image_builder": release.ImageBuilderResource(),
                   "registry": registry_resource(), "rollout": rollout_resource(),
                   release.RELEASE_IO_MANAGER: FilesystemIOManager(), **resources},
        # Every step shares one Spark session: a process per step would start a JVM per step (~9 s each).
        executor=in_process_executor,
    )


defs = make_definitions()
