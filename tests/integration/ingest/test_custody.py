"""Chain of custody in the in-process core: files checked against a real ASC MHL
history (made by the reference tool) before complete, receipts when the batch is done."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import xxhash
from sqlalchemy import select, update

import watchd.custody.check as check_module
import watchd.ingest.upload_step as upload_step_module
from tests.integration.custody.conftest import ascmhl, make_card
from tests.integration.ingest.core import DAILIES, Core
from watchd.base import mounts
from watchd.base.fileversion import Fingerprint, SettledFile
from watchd.cli.main import main
from watchd.custody import hashing
from watchd.ingest.failures import RetryPolicy
from watchd.ingest.queueing import BatchRule, enqueue
from watchd.ingest.receipts_step import ReceiptWriter
from watchd.store.models import Batch, FileHash, Job, JobState, Receipt

CARD = {"CLIPS/C001.mov": b"one " * 300_000, "CLIPS/C002.mov": b"two " * 200_000}


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_card(tmp_path_factory.mktemp("card") / "A001", CARD)


def drop_card(core: Core, pristine: Path) -> Path:
    return Path(shutil.copytree(pristine, core.drop / "A001"))


def queue_existing(core: Core, path: Path) -> int:
    relpath = path.relative_to(core.drop).as_posix()
    settled = SettledFile("dailies", path, relpath, Fingerprint.of(path.stat()))
    job = enqueue(core.db, settled, BatchRule(DAILIES, "{subdir}"), core.clock.now())
    assert job is not None
    return job.id


def receipts(core: Core) -> ReceiptWriter:
    """A receipt writer as a (re)started daemon has one."""
    return ReceiptWriter(core.db, lambda: {"dailies": core.policy}, core.root, core.clock)


def receipt_row(core: Core) -> Receipt:
    with core.db.reading() as session:
        (row,) = session.query(Receipt).all()
        session.expunge(row)
        return row


def test_a_clean_card_is_verified_uploaded_and_receipted_after_a_crash(core, pristine):
    card = drop_card(core, pristine)
    jobs = [queue_existing(core, card / rel) for rel in CARD]
    assert core.drive(*jobs) == [JobState.DONE, JobState.DONE]
    # The daemon "crashed" before its receipt pass: a new writer finds the batch.
    assert receipts(core).run_once() == 1
    assert receipts(core).run_once() == 0  # written once
    row = receipt_row(core)
    assert row.state == "written" and row.detail is None
    assert row.sidecar is not None and row.manifests is not None
    sidecar = json.loads(Path(row.sidecar).read_text())
    assert {f["path"] for f in sidecar["files"]} == {"A001/" + rel for rel in CARD}
    assets = {a["id"] for a in core.assets()}
    assert {f["asset_id"] for f in sidecar["files"]} == assets
    for listed in sidecar["files"]:
        assert listed["verified"] == "xxh64" and set(listed["hashes"]) == {"xxh64", "md5"}
    home = Path(row.manifests).parent.parent
    info = ascmhl("info", "-v", home).stdout
    assert "Generation 1" in info and "batch 'A001'" in info


def test_a_receipt_in_the_cards_history_is_verified_by_ascmhl(core, pristine):
    core.set_folder(receipt="history")
    card = drop_card(core, pristine)
    jobs = [queue_existing(core, card / rel) for rel in CARD]
    assert core.drive(*jobs) == [JobState.DONE, JobState.DONE]
    receipts(core).run_once()
    assert Path(receipt_row(core).manifests or "").parent == card / "ascmhl"
    again = ascmhl("create", "-v", "-h", "xxh64", card).stdout
    assert "mismatch" not in again.lower() and again.count("verified") == 2
    assert sorted(p.name[:4] for p in (card / "ascmhl").glob("*.mhl")) == ["0001", "0002", "0003"]


def test_a_receipt_for_a_history_deleted_with_its_card_goes_to_the_receipts_folder(core, pristine):
    core.set_folder(receipt="history", after_upload="delete")
    card = drop_card(core, pristine)
    jobs = [queue_existing(core, card / rel) for rel in CARD]
    assert core.drive(*jobs) == [JobState.DONE, JobState.DONE]
    assert receipts(core).run_once() == 1
    assert not (card / "ascmhl").exists(), "the history went with its media"
    row = receipt_row(core)
    (manifest,) = (row.manifests or "").splitlines()
    assert row.state == "written" and Path(manifest).is_file()
    assert (
        Path(manifest).parent.parent
        == core.root / "receipts" / "dailies" / f"{row.batch_id:06d}_A001"
    )
    assert "is deleted with its media (after_upload: delete)" in (row.detail or "")
    sidecar = json.loads(Path(row.sidecar or "").read_text())
    assert sidecar["manifests"] == [manifest]


def test_a_receipt_in_a_history_moved_with_its_card_is_recorded_where_it_went(
    core, pristine, tmp_path
):
    archive = tmp_path / "archive"
    core.set_folder(receipt="history", move_to=archive)
    card = drop_card(core, pristine)
    jobs = [queue_existing(core, card / rel) for rel in CARD]
    assert core.drive(*jobs) == [JobState.DONE, JobState.DONE]
    assert receipts(core).run_once() == 1
    (manifest,) = (receipt_row(core).manifests or "").splitlines()
    assert Path(manifest).parent == archive / "A001" / "ascmhl" and Path(manifest).is_file()
    sidecar = json.loads(Path(receipt_row(core).sidecar or "").read_text())
    assert sidecar["manifests"] == [manifest]
    ascmhl("diff", archive / "A001")  # the moved history, the receipt in it, still agree


def test_a_name_xml_cannot_hold_is_left_out_of_the_mhl_and_said_the_receipt_still_valid(
    core, pristine
):
    card = drop_card(core, pristine)
    late = card / "CLIPS" / "late\x1b[31m.mov"
    late.write_bytes(b"added after the offload" * 100)
    jobs = [queue_existing(core, card / rel) for rel in CARD] + [queue_existing(core, late)]
    assert core.drive(*jobs) == [JobState.DONE] * 3
    assert receipts(core).run_once() == 1
    row = receipt_row(core)
    (manifest,) = (row.manifests or "").splitlines()
    ascmhl("info", Path(manifest).parent.parent)  # the reference tool reads it
    ns = {"m": "urn:ASC:MHL:v2.0"}
    listed = [p.text or "" for p in ET.parse(manifest).getroot().iterfind(".//m:path", ns)]
    assert sorted(listed) == sorted(CARD), "the card's files, relative to its folder"
    assert "CLIPS/late\\u001b[31m.mov is not in the ASC MHL receipt" in (row.detail or "")
    sidecar = json.loads(Path(row.sidecar or "").read_text())
    assert "A001/CLIPS/late\x1b[31m.mov" in [f["path"] for f in sidecar["files"]]


def test_the_receipt_of_a_card_names_the_clip_that_failed_its_checksum(core, pristine):
    card = drop_card(core, pristine)
    clip = card / "CLIPS/C001.mov"
    data = bytearray(clip.read_bytes())
    data[4242] ^= 0xFF
    clip.write_bytes(bytes(data))
    jobs = [queue_existing(core, card / rel) for rel in CARD]
    assert core.drive(*jobs) == [JobState.FAILED, JobState.DONE]
    assert receipts(core).run_once() == 1
    row = receipt_row(core)
    said = "1 file(s) of this batch not uploaded: A001/CLIPS/C001.mov (failed: checksum mismatch"
    assert said in (row.detail or "")
    sidecar = json.loads(Path(row.sidecar or "").read_text())
    assert any(w.startswith(said) for w in sidecar["warnings"])
    assert "not in their offload history" not in (row.detail or "")


def test_a_flipped_byte_fails_for_good_and_the_file_stays(core, pristine):
    core.set_folder(after_upload="delete")
    card = drop_card(core, pristine)
    clip = card / "CLIPS/C001.mov"
    data = bytearray(clip.read_bytes())
    data[4242] ^= 0xFF
    clip.write_bytes(bytes(data))
    bad, good = queue_existing(core, clip), queue_existing(core, card / "CLIPS/C002.mov")
    assert core.drive(bad, good) == [JobState.FAILED, JobState.DONE]
    job = core.job(bad)
    assert job.attempts == 1 and job.uploaded_at is None
    assert job.last_error is not None
    assert "checksum mismatch" in job.last_error and "xxh64" in job.last_error
    assert str(clip) in job.last_error
    (asset,) = core.assets()  # only the good clip was completed; the bad one's upload aborted
    assert asset["id"] == core.job(good).asset_id
    assert [u["filename"] for u in core.uploads("aborted")] == ["C001.mov"]
    assert clip.read_bytes() == bytes(data)  # never deleted
    assert not (card / "CLIPS/C002.mov").exists()  # the verified one was


def test_a_file_added_after_the_offload_is_uploaded_reported_and_kept(core, pristine):
    core.set_folder(after_upload="delete")
    card = drop_card(core, pristine)
    extra = card / "CLIPS/C003.mov"
    extra.write_bytes(b"added later")
    (card / "CLIPS/C002.mov").unlink()  # listed, but gone before the drop
    jobs = [queue_existing(core, card / "CLIPS/C001.mov"), queue_existing(core, extra)]
    assert core.drive(*jobs) == [JobState.DONE, JobState.DONE]
    assert extra.exists()  # only its size was ever checked: kept
    assert not (card / "CLIPS/C001.mov").exists()
    receipts(core).run_once()
    detail = receipt_row(core).detail or ""
    assert "CLIPS/C002.mov" in detail and "neither on disk nor uploaded" in detail
    assert "A001/CLIPS/C003.mov" in detail and "not in their offload history" in detail


def test_with_verify_off_a_card_is_kept_unless_unverified_delete_is_allowed(core, pristine):
    core.set_folder(after_upload="delete", verify="off")
    card = drop_card(core, pristine)
    job = queue_existing(core, card / "CLIPS/C001.mov")
    assert core.drive(job) == [JobState.DONE]
    assert (card / "CLIPS/C001.mov").exists()
    core.set_folder(allow_unverified_delete=True)
    other = queue_existing(core, card / "CLIPS/C002.mov")
    assert core.drive(other) == [JobState.DONE]
    assert not (card / "CLIPS/C002.mov").exists()


def write_config(core: Core) -> Path:
    key = core.root / "api_key"
    key.write_text("demo-api-key\n")
    key.chmod(0o600)
    config = core.root / "watchd.yaml"
    flowcapture = {"url": "http://127.0.0.1:9", "email": "d@example.com", "api_key_file": str(key)}
    settings = {"flowcapture": flowcapture, "state_dir": str(core.root), "folders": []}
    config.write_text(json.dumps(settings))  # JSON is YAML
    return config


def test_watchd_receipt_prints_files_hashes_and_asset_ids(core, pristine, capsys):
    card = drop_card(core, pristine)
    jobs = [queue_existing(core, card / rel) for rel in CARD]
    assert core.drive(*jobs) == [JobState.DONE, JobState.DONE]
    config = write_config(core)
    assert main(["receipt", "A001", "--config", str(config)]) == 0
    text = capsys.readouterr().out
    assert "receipt: not written yet" in text and "verified xxh64" in text
    receipts(core).run_once()
    assert main(["receipt", "A001", "--json", "--config", str(config)]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["receipt"]["state"] == "written"
    assert sorted(f["asset_id"] for f in row["files"]) == sorted(a["id"] for a in core.assets())
    assert all(set(f["hashes"]) == {"xxh64", "md5"} for f in row["files"])
    assert row["same_name"] == []
    assert main(["receipt", "no-such-batch", "--config", str(config)]) == 1
    assert "no batch 'no-such-batch' (`watchd batches`" in capsys.readouterr().err


def test_watchd_receipt_says_why_a_batch_has_no_receipt(core, pristine, capsys):
    config = write_config(core)

    def note(batch: str) -> str:
        assert main(["receipt", batch, "--json", "--config", str(config)]) == 0
        (row,) = json.loads(capsys.readouterr().out)
        assert row["receipt"] is None
        return str(row["receipt_note"])

    plain = core.queue("Day1/clip.mov", 1000)  # no offload history: never one
    assert core.drive(plain) == [JobState.DONE]
    assert note("Day1").startswith("none: no file of this batch was checked against an ASC MHL")
    card = drop_card(core, pristine)
    first, second = (queue_existing(core, card / rel) for rel in CARD)
    core.run(first)  # hashed and uploaded; the batch waits for the second file
    assert core.job(first).state == JobState.UPLOADED
    assert note("A001").startswith("not written yet (written once the batch is closed")
    assert core.drive(first, second) == [JobState.DONE, JobState.DONE]
    assert note("A001").startswith("not written yet (due:")
    with core.db.transaction() as session:  # as `watchd upload` names its batches' folder
        session.execute(update(Batch).where(Batch.name == "Day1").values(folder="upload:1000"))
    assert note("Day1").startswith("none: receipts are written by the daemon")


def test_watchd_verify_checks_a_card_without_uploading(core, pristine, capsys):
    card = drop_card(core, pristine)
    assert main(["verify", str(card)]) == 0
    assert "2 verified, 0 mismatched, 0 missing" in capsys.readouterr().out
    (card / "CLIPS/C002.mov").write_bytes(b"bit rot")
    (card / "CLIPS/C009.mov").write_bytes(b"extra")
    assert main(["verify", "--json", str(card)]) == 1
    (report,) = json.loads(capsys.readouterr().out)
    assert [m["path"] for m in report["mismatched"]] == ["CLIPS/C002.mov"]
    assert report["unlisted"] == ["CLIPS/C009.mov"] and not report["ok"]
    assert core.assets() == []
    assert main(["verify", str(core.drop / "nowhere")]) == 2


def test_a_flipped_byte_in_a_file_of_several_parts_is_caught_while_its_parts_go_out(core, tmp_path):
    big = make_card(tmp_path / "B001", {"CLIPS/B001.mov": bytes(range(256)) * 48_000})  # 11.7 MiB
    card = Path(shutil.copytree(big, core.drop / "B001"))
    clip = card / "CLIPS/B001.mov"
    with clip.open("r+b") as handle:
        handle.seek(9_000_000)
        byte = handle.read(1)
        handle.seek(9_000_000)
        handle.write(bytes([byte[0] ^ 0xFF]))
    bad = queue_existing(core, clip)
    assert core.drive(bad) == [JobState.FAILED]
    job = core.job(bad)
    assert job.last_error is not None and "checksum mismatch" in job.last_error
    assert core.assets() == [], "never completed"
    assert clip.exists()


def test_the_hashes_are_on_record_when_complete_goes_out(core, pristine):
    # Recorded in the transaction that marks "complete sent", not in one of their own: a
    # crash at the complete finds them there, and a restart does not read the file again.
    card = drop_card(core, pristine)
    job_id = queue_existing(core, card / "CLIPS/C001.mov")
    seen: list[tuple[object, object]] = []

    def look() -> None:
        with core.db.reading() as session:
            row = session.get(FileHash, job_id)
            job = session.get(Job, job_id)
            assert job is not None
            seen.append((row.verified_format if row else None, job.complete_sent_at is not None))

    core.hooks.before("/upload/asset/complete", look)
    assert core.drive(job_id) == [JobState.DONE]
    assert seen == [("xxh64", True)]


@pytest.fixture
def hashed(monkeypatch) -> list[tuple[Path, list[str]]]:
    """Every file the custody check reads to hash, with the formats it asked for."""
    calls: list[tuple[Path, list[str]]] = []
    real_hash_file = hashing.hash_file

    def recording_hash_file(path, formats, stop=None):
        calls.append((Path(path), list(formats)))
        return real_hash_file(path, formats, stop)

    monkeypatch.setattr(check_module, "hash_file", recording_hash_file)
    return calls


def fail_one_complete(core: Core, monkeypatch, **fault) -> None:
    """The next /upload/asset/complete fails as ``fault`` says, and is not tried again
    within the same run (the job's next try sends it)."""
    monkeypatch.setattr(upload_step_module, "COMPLETE_RETRY", RetryPolicy(1, 0.1, 0.1))
    core.emulator.set_faults(
        {"rules": [{"endpoint": "/upload/asset/complete", "count": 1, **fault}]}
    )


def test_a_try_after_complete_went_out_unanswered_does_not_hash_the_file_again(
    core, pristine, monkeypatch, hashed
):
    # The hashes were recorded with "complete sent"; the next try (the answer was lost)
    # finds them there. A file is hashed once whatever happens to its complete.
    fail_one_complete(core, monkeypatch, reset=True)
    card = drop_card(core, pristine)
    job_id = queue_existing(core, card / "CLIPS/C001.mov")
    assert core.step(job_id) == JobState.WAITING  # complete sent, no answer
    assert core.job(job_id).complete_sent_at is not None
    assert core.drive(job_id) == [JobState.DONE]
    assert [path for path, _formats in hashed] == [card / "CLIPS/C001.mov"]
    with core.db.reading() as session:
        assert session.get_one(FileHash, job_id).verified_format == "xxh64"


def test_a_file_hashed_again_after_a_refused_complete_replaces_its_hashes(
    core, pristine, monkeypatch, hashed
):
    # A complete the service refused (429: not acted on) forgets "complete sent"; the
    # next try checks the file again and its hashes replace the first ones.
    fail_one_complete(core, monkeypatch, status=429)
    card = drop_card(core, pristine)
    job_id = queue_existing(core, card / "CLIPS/C001.mov")
    assert core.step(job_id) == JobState.WAITING
    assert core.job(job_id).complete_sent_at is None, "refused: not sent"
    assert core.drive(job_id) == [JobState.DONE]
    assert [path for path, _formats in hashed] == [card / "CLIPS/C001.mov"] * 2
    with core.db.reading() as session:
        rows = session.scalars(select(FileHash).where(FileHash.job_id == job_id)).all()
    assert len(rows) == 1 and rows[0].verified_format == "xxh64"


def test_a_one_part_file_is_not_read_again_for_its_md5(core, pristine, hashed):
    # The md5 of a file sent as one part is that part's Content-MD5: the custody check
    # reads the file for the history's hash alone, and the receipt's md5 is still right.
    card = drop_card(core, pristine)
    job_id = queue_existing(core, card / "CLIPS/C001.mov")
    assert core.drive(job_id) == [JobState.DONE]
    assert [formats for _path, formats in hashed] == [["xxh64"]]
    with core.db.reading() as session:
        row = session.get_one(FileHash, job_id)
        hashes = json.loads(row.hashes)
    assert hashes["md5"] == hashlib.md5(CARD["CLIPS/C001.mov"]).hexdigest()
    assert hashes["xxh64"] == xxhash.xxh64(CARD["CLIPS/C001.mov"]).hexdigest()


def settle_offered(core: Core, caplog: pytest.LogCaptureFixture, *paths: Path) -> None:
    """Offer ``paths`` as the watcher does when they begin to settle; wait until hashed."""
    caplog.set_level(logging.DEBUG, logger="watchd.custody.ahead")
    files = [
        SettledFile("dailies", p, p.relative_to(core.drop).as_posix(), Fingerprint.of(p.stat()))
        for p in paths
    ]
    core.pipeline.custody.hash_ahead(files, settle=10)
    deadline = time.monotonic() + 10
    while not all(f"hashed ahead: file={p} " in caplog.text for p in paths):
        assert time.monotonic() < deadline, "not hashed ahead"
        time.sleep(0.02)


def test_files_hashed_while_they_settled_are_not_read_again_before_complete(
    core, tmp_path, pristine, caplog, hashed
):
    # The check before complete finds the digests ready: the one-part clip's md5 is its
    # part's, the 11.7 MiB clip's (three parts) was computed ahead with its xxh64.
    big = make_card(tmp_path / "B001", {"CLIPS/B001.mov": bytes(range(256)) * 48_000})
    cards = [drop_card(core, pristine), Path(shutil.copytree(big, core.drop / "B001"))]
    clips = [cards[0] / "CLIPS/C001.mov", cards[1] / "CLIPS/B001.mov"]
    settle_offered(core, caplog, *clips)
    jobs = [queue_existing(core, clip) for clip in clips]
    assert core.drive(*jobs) == [JobState.DONE, JobState.DONE]
    assert hashed == [], "no read of its own"
    for job_id, clip in zip(jobs, clips, strict=True):
        with core.db.reading() as session:
            row = session.get_one(FileHash, job_id)
        data = clip.read_bytes()
        assert row.verified_format == "xxh64"
        assert json.loads(row.hashes) == {
            "xxh64": xxhash.xxh64(data).hexdigest(),
            "md5": hashlib.md5(data).hexdigest(),
        }


def test_a_file_rewritten_after_it_was_hashed_ahead_is_read_again_and_refused(
    core, pristine, caplog, hashed
):
    # Same size, mtime put back: the version looks the same, but its ctime moved, so the
    # digests computed ahead are not used; the check reads the file and finds the flip.
    card = drop_card(core, pristine)
    clip = card / "CLIPS/C001.mov"
    settle_offered(core, caplog, clip)
    version = clip.stat()
    time.sleep(0.05)  # a later ctime, even with a coarse filesystem clock
    data = bytearray(clip.read_bytes())
    data[100] ^= 0xFF
    clip.write_bytes(bytes(data))
    os.utime(clip, ns=(version.st_atime_ns, version.st_mtime_ns))
    job_id = queue_existing(core, clip)
    assert core.drive(job_id) == [JobState.FAILED]
    assert [path for path, _formats in hashed] == [clip]
    last_error = core.job(job_id).last_error or ""
    assert "checksum mismatch" in last_error and str(clip) in last_error
    assert core.assets() == []


def corrupt_card(core: Core, tmp_path: Path) -> Path:
    """A 39 MiB clip (eight parts) in a card, one byte flipped after the offload."""
    data = bytes(range(256)) * 160_000
    big = make_card(tmp_path / "B001", {"CLIPS/B001.mov": data})
    clip = Path(shutil.copytree(big, core.drop / "B001")) / "CLIPS/B001.mov"
    with clip.open("r+b") as handle:
        handle.seek(30_000_000)
        handle.write(b"\0")
    return clip


def test_a_corrupt_clip_hashed_while_it_settled_sends_nothing(core, tmp_path, caplog):
    clip = corrupt_card(core, tmp_path)
    settle_offered(core, caplog, clip)
    job_id = queue_existing(core, clip)
    assert core.drive(job_id) == [JobState.FAILED]
    last_error = core.job(job_id).last_error or ""
    assert "checksum mismatch" in last_error and str(clip) in last_error
    assert core.hooks.calls["s3:PUT"] == 0
    assert core.hooks.calls["/upload/asset/init"] == 0, "the upload was not even started"
    assert core.assets() == [] and clip.exists()


def test_a_corrupt_clip_stops_sending_parts_once_its_check_failed(core, tmp_path):
    # Not hashed ahead: the check reads the clip while its parts go out (slowly here);
    # once it found the flip, at most the parts in flight finish, not all eight.
    clip = corrupt_card(core, tmp_path)
    core.hooks.before("s3:PUT", lambda: time.sleep(1.0))  # the first part is slow
    job_id = queue_existing(core, clip)
    assert core.drive(job_id) == [JobState.FAILED]
    assert "checksum mismatch" in (core.job(job_id).last_error or "")
    assert core.hooks.calls["s3:PUT"] < 8
    assert core.assets() == [] and [u["filename"] for u in core.uploads("aborted")] == ["B001.mov"]
    assert clip.exists()


def test_files_on_a_share_or_fat_are_not_hashed_ahead(core, pristine, caplog, monkeypatch):
    # A share's attributes are cached here, FAT's ctime is its mtime: a file changed
    # during or after the read could look unchanged. The check reads such files itself.
    card = drop_card(core, pristine)
    clip = card / "CLIPS/C001.mov"
    kind = mounts.mount_type(clip)
    monkeypatch.setattr(mounts, "OWN_CTIME_FILESYSTEMS", frozenset())  # as if a share or FAT
    caplog.set_level(logging.DEBUG, logger="watchd.custody.ahead")
    version = Fingerprint.of(clip.stat())
    core.pipeline.custody.hash_ahead(
        [SettledFile("dailies", clip, "A001/CLIPS/C001.mov", version)], 0.2
    )
    time.sleep(1.0)
    assert "hashed ahead" not in caplog.text
    monkeypatch.setattr(mounts, "OWN_CTIME_FILESYSTEMS", frozenset({kind}))  # a local disk
    settle_offered(core, caplog, clip)


def test_a_file_rewritten_during_its_upload_is_queued_again_not_failed(core, tmp_path):
    # Its check reads the new bytes and finds a mismatch; but the file is no longer the
    # version that was queued, so the job gives way to the new version (SourceChanged)
    # instead of failing for good as a corrupt copy.
    data = bytes(range(256)) * 160_000  # 39 MiB: eight parts
    big = make_card(tmp_path / "B001", {"CLIPS/B001.mov": data})
    clip = Path(shutil.copytree(big, core.drop / "B001")) / "CLIPS/B001.mov"
    job_id = queue_existing(core, clip)

    def append() -> None:
        with clip.open("ab") as handle:
            handle.write(b"one more frame")

    core.hooks.before("/upload/asset/init", append)
    core.run(job_id)
    job = core.job(job_id)
    assert job.state == JobState.CANCELLED, job.last_error
    assert "changed since it was queued" in (job.last_error or "")
    assert core.assets() == []


def test_a_one_part_file_rewritten_before_its_check_is_queued_again_not_failed(core, pristine):
    card = drop_card(core, pristine)
    clip = card / "CLIPS/C001.mov"
    job_id = queue_existing(core, clip)

    def append() -> None:
        with clip.open("ab") as handle:
            handle.write(b"one more frame")

    core.hooks.after("s3:PUT", append)  # its one part went out; its check reads after
    core.run(job_id)
    job = core.job(job_id)
    assert job.state == JobState.CANCELLED, job.last_error
    assert "changed since it was queued" in (job.last_error or "")


def test_a_daemon_stopping_during_a_check_leaves_a_changed_file_to_the_next_start(core, pristine):
    # The stop wins over what the file did meanwhile: the job is paused, not cancelled as
    # changed with an abort sent during the shutdown.
    card = drop_card(core, pristine)
    clip = card / "CLIPS/C001.mov"
    job_id = queue_existing(core, clip)
    stop = core.stop.child()

    def append_and_stop() -> None:
        with clip.open("ab") as handle:
            handle.write(b"one more frame")
        stop.stop("watchd is stopping")

    core.hooks.after("s3:PUT", append_and_stop)
    core.run(job_id, stop)
    job = core.job(job_id)
    assert job.state in (JobState.QUEUED, JobState.UPLOADING), job.last_error
    assert core.uploads("aborted") == []


def test_a_history_given_a_new_format_after_the_read_ahead_is_checked_alongside(
    core, tmp_path, caplog, monkeypatch
):
    # The digests ahead lack the format the check now wants: the upload does not wait
    # for a whole read before it starts; the check reads while the parts go out.
    big = make_card(tmp_path / "B001", {"CLIPS/B001.mov": bytes(range(256)) * 48_000})
    clip = Path(shutil.copytree(big, core.drop / "B001")) / "CLIPS/B001.mov"
    settle_offered(core, caplog, clip)
    ascmhl("create", "-h", "xxh3", clip.parents[1])  # a second generation, in xxh3
    inits_at_read: list[int] = []
    real_hash_file = hashing.hash_file

    def recording_hash_file(path, formats, stop=None):
        inits_at_read.append(core.hooks.calls["/upload/asset/init"])
        return real_hash_file(path, formats, stop)

    monkeypatch.setattr(check_module, "hash_file", recording_hash_file)
    job_id = queue_existing(core, clip)
    assert core.drive(job_id) == [JobState.DONE]
    assert inits_at_read == [1], "read after the upload started, not before"
    with core.db.reading() as session:
        assert session.get_one(FileHash, job_id).verified_format == "xxh3"


def test_a_history_that_cannot_be_read_stays_where_it_is_and_stops_no_receipt(core, pristine):
    core.set_folder(after_upload="delete")
    card = drop_card(core, pristine)
    (first,) = (card / "ascmhl").glob("0001_*.mhl")
    unchained = card / "ascmhl" / first.name.replace("0001_", "0002_")
    unchained.write_bytes(first.read_bytes())  # (a crash between a generation and its chain)
    writer = receipts(core)
    assert writer._media_gone(card) is False, "a history it cannot read is not deleted"
    assert (card / "ascmhl").is_dir()
