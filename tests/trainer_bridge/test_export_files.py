import json
import os
import signal
import subprocess
import sys
import time

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from tests.workers import worker_database_url
from trainer_bridge.exports import export_rm
from trainer_bridge.exports import records as export_records


def test_a_failed_export_leaves_no_half_file_and_keeps_the_previous_one(snapshot, tmp_path, monkeypatch):
    path = tmp_path / "rm.jsonl"
    complete = export_rm(snapshot=snapshot, path=path).path.read_bytes()
    real = export_records.pair_lines

    def breaks_midway(*args, **kwargs):
        for i, line in enumerate(real(*args, **kwargs)):
            if i == 20:
                raise RuntimeError("disk on fire")
            yield line

    monkeypatch.setattr(export_records, "pair_lines", breaks_midway)
    with pytest.raises(RuntimeError, match="disk on fire"):
        export_rm(snapshot=snapshot, path=path)
    assert path.read_bytes() == complete
    assert [p.name for p in tmp_path.iterdir()] == ["rm.jsonl"]


_SLOW_EXPORT = """
import sys, time, django
django.setup()
from trainer_bridge.exports import records, export_rm
from curation.models import DatasetSnapshot
real = records.pair_lines
def slow(*args, **kwargs):
    for i, line in enumerate(real(*args, **kwargs)):
        yield line * 200000 if i < 3 else line  # a few big lines reach the temporary file
        if i == 3:
            print("midway", flush=True)
            time.sleep(60)
records.pair_lines = slow
from pathlib import Path
export_rm(snapshot=DatasetSnapshot.objects.get(pk=int(sys.argv[1])), path=Path(sys.argv[2]))
"""


@pytest.mark.django_db(transaction=True)
def test_a_killed_export_leaves_no_file_at_its_path(snapshot, tmp_path):
    path = tmp_path / "rm.jsonl"
    env = dict(os.environ, DATABASE_URL=worker_database_url(), DJANGO_SETTINGS_MODULE="config.settings")
    process = subprocess.Popen(
        [sys.executable, "-c", _SLOW_EXPORT, str(snapshot.pk), str(path)],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout.readline().strip() == "midway"
        deadline = time.monotonic() + 10
        while not any(p.name.endswith(".tmp") and p.stat().st_size for p in tmp_path.iterdir()):
            assert time.monotonic() < deadline, "the export never wrote its temporary file"
            time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert not path.exists()


def test_the_commands_export_and_report_what_they_wrote(snapshot, tmp_path, capsys):
    out = tmp_path / "sft.jsonl"
    call_command("export_sft", snapshot=str(snapshot.pk), out=out, no_progress=True, kinds="refusal")
    summary = json.loads(capsys.readouterr().out)
    assert summary["records"] == 2 and summary["path"] == str(out) and out.exists()

    call_command(
        "export_rm",
        snapshot=snapshot.name,
        out=tmp_path / "rm.parquet",
        format="parquet",
        mode="kwise",
        by="consensus",
        no_progress=True,
    )
    assert json.loads(capsys.readouterr().out)["records"] == 5

    call_command(
        "export_prompts", snapshot=str(snapshot.pk), out=tmp_path / "p.jsonl", split="train", no_progress=True
    )
    assert json.loads(capsys.readouterr().out)["options"]["split"] == "train"


def test_the_default_path_is_under_the_export_root(snapshot, settings, tmp_path, capsys):
    settings.EXPORT_ROOT = tmp_path / "exports"
    call_command("export_rm", snapshot=str(snapshot.pk), no_progress=True, margin=True)
    path = json.loads(capsys.readouterr().out)["path"]
    assert path.startswith(str(tmp_path / "exports" / f"snapshot-{snapshot.pk}")) and path.endswith(".jsonl")


def test_a_missing_snapshot_is_a_clear_error(db, tmp_path):
    with pytest.raises(CommandError, match="there is no snapshot '999'"):
        call_command("export_sft", snapshot="999", out=tmp_path / "x.jsonl", no_progress=True)
    with pytest.raises(CommandError, match="there is no snapshot 'nope'"):
        call_command("export_rm", snapshot="nope", out=tmp_path / "x.jsonl", no_progress=True)


def test_snapshot_freeze_command_prints_the_manifest(labeled, capsys):
    call_command(
        "snapshot_freeze",
        project=labeled.name,
        name="cli",
        kinds="ranking",
        labelers="lea",
        user="ada",
        no_progress=True,
    )
    manifest = json.loads(capsys.readouterr().out)
    assert manifest["counts"]["rows"] == 5 and manifest["filters"]["labelers"] == ["lea"]
    with pytest.raises(CommandError, match="matches no annotations"):
        call_command(
            "snapshot_freeze", project=labeled.name, name="none", labelers="nobody", no_progress=True
        )
