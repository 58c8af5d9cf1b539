"""The asset catalogue an engineer reads in the UI: every asset in one of four groups, described, owned,
kinded, versioned and linked to its code; every check described and blocking."""

from __future__ import annotations

from pathlib import Path

from daystosell_assets.definitions import defs

GROUPS = {"lake": {"adverts", "taxonomy", "valuations", "geography"}, "features": {"training_set"},
          "model": {"fitted_model", "mleap_bundle"},
          "serving": {"live_advert_predictions", "service_image", "published_image", "preprod_deployment",
                      "prod_deployment"}}
KINDS = {"spark", "parquet", "mleap", "docker", "kubernetes"}


def test_every_asset_is_grouped_described_owned_kinded_versioned_and_linked_to_its_code() -> None:
    graph = defs.resolve_asset_graph()
    by_group: dict[str, set[str]] = {}
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        name = key.to_user_string()
        by_group.setdefault(str(node.group_name), set()).add(name)
        assert node.description and len(node.description) > 30, name
        assert node.owners and all(owner.startswith("team:") for owner in node.owners), name
        assert node.kinds and node.kinds <= KINDS, (name, node.kinds)
        assert node.code_version, name
        [reference] = node.metadata["dagster/code_references"].code_references
        source = Path(reference.file_path)
        # The reference is the decorated function's first line: its decorator.
        lines = source.read_text().splitlines()[reference.line_number - 1:reference.line_number + 6]
        assert lines[0].startswith("@asset") and any(f"def {name}(" in line for line in lines), name
    assert by_group == GROUPS


def test_every_check_is_described_and_blocking() -> None:
    checks = list(defs.resolve_asset_graph().asset_check_keys)
    assert len(checks) >= 10
    for spec in (spec for c in defs.asset_checks or [] for spec in c.check_specs):  # type: ignore[union-attr]
        assert spec.description, spec.key
        assert spec.blocking, spec.key
