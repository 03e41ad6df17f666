"""The guide's walkthrough on both backends, through the CLI."""

from conftest import GUIDE_MANIFEST


def test_guide_walkthrough(cli):
    r = cli("register", "--file", GUIDE_MANIFEST)
    assert r.exit_code == 0, r.stderr
    r = cli("find", "--capability", "reasoning", "--residency", "eu-west", "--json")
    assert [v["model_id"] for v in r.json] == ["ms-advanced-reasoning"]
    r = cli("tree", "--json")
    assert list(r.json["staging"]) == ["ms-advanced-reasoning", "ms-standard"]
    assert r.json["experimental"]["ms-research-prototype"][0]["status"] == "EXPERIMENTAL"
