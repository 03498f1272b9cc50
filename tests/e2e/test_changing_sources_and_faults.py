"""Files that change under the daemon, and a network that misbehaves."""

from __future__ import annotations

import os

import pytest

from tests.e2e.harness import MIB, multipart_etag, wait_until, write_file


def uploading_with_a_part_done(site) -> bool:
    state = site.snapshot()
    return any(
        u["state"] == "open" and any(p.get("etag") for p in u["parts"]) for u in state["uploads"]
    )


@pytest.mark.parametrize("change", ["rewritten", "truncated", "appended"])
def test_a_file_changed_during_its_upload_is_never_completed_mixed(site, change):
    site.emulator.set_faults({"bandwidth_bytes_per_s": 6 * MIB})
    drop = site.add_folder()
    site.transfer["parallel_parts"] = 1
    target = drop / "changing.mov"
    write_file(target, 20 * MIB)
    site.start()
    wait_until(lambda: uploading_with_a_part_done(site), 60, "the upload under way")

    if change == "rewritten":
        final = os.urandom(20 * MIB)
        target.write_bytes(final)
    elif change == "truncated":
        with target.open("r+b") as handle:
            handle.truncate(7 * MIB)
        final = target.read_bytes()
    else:
        with target.open("ab") as handle:
            handle.write(os.urandom(MIB))
        final = target.read_bytes()

    site.emulator.set_faults({"bandwidth_bytes_per_s": None})
    wait_until(site.visible_assets, 60, "the final version ingested")
    wait_until(lambda: "done" in site.states(), 30, "a job done")
    (asset,) = site.visible_assets()
    assert asset["size"] == len(final)
    assert asset["etag"] == multipart_etag(final)
    states = sorted(site.states())
    assert states == ["cancelled", "done"], site.log()[-3000:]
    uploads = site.snapshot()["uploads"]
    assert sorted(u["state"] for u in uploads) == ["aborted", "ingested"], site.log()[-5000:]


def test_every_file_lands_once_through_5xx_resets_token_expiry_url_expiry_and_429(site):
    site.emulator.set_faults(
        {
            "seed": 7,
            "token_lifetime_s": 2,
            "url_lifetime_s": 1,
            "latency_ms": 20,
            "rules": [
                {"endpoint": "s3:PUT", "reset": True, "rate": 0.15},
                {"endpoint": "s3:PUT", "status": 500, "rate": 0.1},
                {"endpoint": "/upload/asset/part", "status": 503, "rate": 0.15},
                {"endpoint": "/upload/asset/*", "status": 429, "retry_after": 1, "rate": 0.1},
                {"endpoint": "/complete/upload", "status": 503, "count": 2},
                {"endpoint": "/update/asset", "status": 500, "count": 1},
            ],
        }
    )
    drop = site.add_folder(metadata={"tags": ["flaky"]})
    files = {f"clip{i}.mov": write_file(drop / f"clip{i}.mov", (3 + i) * MIB) for i in range(5)}
    site.start()
    wait_until(lambda: site.all_done(5), 180, "five files done through the faults")
    wait_until(lambda: len(site.visible_assets()) == 5, 20, "five assets processed")
    assets = {a["name"]: a for a in site.visible_assets()}
    assert set(assets) == set(files)
    for name, data in files.items():
        assert assets[name]["etag"] == multipart_etag(data)
        assert assets[name]["tags"] == ["flaky"]
    state = site.snapshot()
    assert state["requests"]["s3:PUT"] > sum(len(u["parts"]) for u in state["uploads"])
    assert "trying again" in site.log() or "will retry" in site.log()
