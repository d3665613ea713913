"""Image names for shipping to Ray's nodes (engine.forge.ray_ship): no Ray, no Docker needed."""

from __future__ import annotations

from engine.forge.ray_ship import registry_name, split_name


def test_split_name_keeps_a_registry_port_out_of_the_tag() -> None:
    assert split_name("bugfoundry/sample:abc-123") == ("bugfoundry/sample", "abc-123")
    assert split_name("host:5000/bf/sample:abc") == ("host:5000/bf/sample", "abc")
    assert split_name("host:5000/bf/sample") == ("host:5000/bf/sample", "latest")
    assert split_name("sample") == ("sample", "latest")


def test_registry_name_puts_the_repo_under_the_prefix() -> None:
    assert (registry_name("bugfoundry/sample:abc-123", "host:5000/team/bf/")
            == "host:5000/team/bf/sample:abc-123")
