"""The champion the gate compares with is what production serves, not merely the newest bundle."""

from __future__ import annotations

from dagster import AssetMaterialization, DagsterInstance, MetadataValue

from daystosell_assets.ml.champion import find_champion


def _record(instance: DagsterInstance, asset: str, version: str) -> None:
    instance.report_runless_asset_event(AssetMaterialization(
        asset, metadata={"model_version": version, "bundle_dir": MetadataValue.path(f"/lake/bundles/{version}")}))


def test_before_any_release_the_newest_bundle_is_the_champion() -> None:
    with DagsterInstance.ephemeral() as instance:
        assert find_champion(instance) is None
        _record(instance, "mleap_bundle", "v1")
        _record(instance, "mleap_bundle", "v2")
        champion = find_champion(instance)
        assert champion is not None
        assert (champion.model_version, champion.bundle_dir, champion.source) == ("v2", "/lake/bundles/v2",
                                                                                  "latest bundle")


def test_production_outranks_a_newer_bundle_and_follows_a_rollback() -> None:
    with DagsterInstance.ephemeral() as instance:
        _record(instance, "mleap_bundle", "v1")
        _record(instance, "prod_deployment", "v1")
        _record(instance, "mleap_bundle", "v2")  # built, not (yet) in production
        champion = find_champion(instance)
        assert champion is not None and (champion.model_version, champion.source) == ("v1", "in production")
        _record(instance, "prod_deployment", "v2")
        _record(instance, "prod_deployment", "v1")  # rolled back
        champion = find_champion(instance)
        assert champion is not None and champion.model_version == "v1"
