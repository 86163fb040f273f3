"""``sreworkbook backups verify|list`` through argparse, with the handler contract."""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
from pathlib import Path

import pytest

from sreworkbook.backups import cli as cli_module
from sreworkbook.backups.cli import register
from sreworkbook.backups.writer import CollectionDump, write_archive

from ._archives import interleaved
from .conftest import S3Server


def run(argv: list[str], root: Path) -> tuple[int, str]:
    parser = argparse.ArgumentParser(prog="sreworkbook")
    register(parser.add_subparsers(dest="command", required=True), record=lambda *_: "")
    args = parser.parse_args(argv)
    out = io.StringIO()
    code: int = args.handler(args, root, root / "outputs", out=out)
    return code, out.getvalue()


def test_public_names() -> None:
    assert {"register", "verify_command", "list_command"} <= set(cli_module.__all__)


def test_handlers_have_the_run_contract_signature(tmp_path: Path) -> None:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"), record=lambda *_: "")
    args = parser.parse_args(["backups", "verify", "x"])
    assert args.handler is cli_module.verify_command
    assert parser.parse_args(["backups", "list", "--env", "e"]).handler is cli_module.list_command


def test_verify_ok_text_and_exit_0(tmp_path: Path) -> None:
    path = tmp_path / "a.archive.gz"
    path.write_bytes(interleaved().gzipped())
    code, out = run(["backups", "verify", str(path)], tmp_path)
    assert code == 0
    assert "shop.orders" in out and "51 documents" in out and "CRC ok" in out
    assert "verdict: ok" in out
    code, out = run(["backups", "verify", str(path)], tmp_path)
    assert code == 0 and "from a.archive.gz.manifest.json" in out


def test_verify_json_is_exactly_the_documented_object(tmp_path: Path) -> None:
    data = bytearray(interleaved().bytes())
    start, _ = interleaved().document_spans[0]
    data[start + 9] ^= 0x40
    path = tmp_path / "bad.archive"
    path.write_bytes(bytes(data))
    code, out = run(["backups", "verify", str(path), "--json"], tmp_path)
    assert code == 1
    payload = json.loads(out)
    assert list(payload) == ["verdict", "collections", "findings"]
    assert payload["verdict"] == "corrupt"
    first = payload["collections"][0]
    assert (first["db"], first["collection"], first["documents"], first["crc_ok"]) == (
        "shop",
        "orders",
        51,
        False,
    )


@pytest.mark.parametrize(
    ("data", "verdict"),
    [(b"junk" * 10, "not-an-archive"), (interleaved().bytes()[:-30], "incomplete")],
)
def test_verify_bad_archives_exit_1(tmp_path: Path, data: bytes, verdict: str) -> None:
    path = tmp_path / "x"
    path.write_bytes(data)
    code, out = run(["backups", "verify", str(path), "--json", "--no-cache"], tmp_path)
    assert code == 1 and json.loads(out)["verdict"] == verdict


def test_verify_missing_file_exits_64(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = run(["backups", "verify", str(tmp_path / "missing.archive.gz")], tmp_path)
    assert code == 64
    assert "archive not found" in capsys.readouterr().err


def _env_file(root: Path, backups: str) -> Path:
    (root / "parameters").mkdir(exist_ok=True)
    path = root / "parameters" / "t.yaml"
    path.write_text(f"name: t\nbackups:\n{backups}")
    return path


def test_list_local_with_policy_and_manifest_verdicts(tmp_path: Path) -> None:
    folder = tmp_path / "backups"
    folder.mkdir()
    now = dt.datetime.now(dt.UTC)
    newest = None
    for back in range(3):
        stamp = now - dt.timedelta(days=back, hours=1)
        path = folder / f"tradeai_backup_{stamp:%Y%m%d_%H%M%S}.archive.gz"
        write_archive([CollectionDump("d", "c", [{"_id": i} for i in range(10)])], path)
        newest = newest or path
    assert newest is not None
    newest.write_bytes(newest.read_bytes()[:-40])  # the newest is truncated
    run(["backups", "verify", str(newest)], tmp_path)  # leaves a manifest saying incomplete
    _env_file(tmp_path, f"  local_dir: {folder}\n  rpo_hours: 24\n")
    code, out = run(["backups", "list", "--env", "t"], tmp_path)
    assert "incomplete" in out
    assert code == 1  # the newest good backup is 25 h old: past the RPO
    assert "newest good backup is 25.0 h old" in out
    code, out = run(["backups", "list", "--env", "t", "--json"], tmp_path)
    payload = json.loads(out)
    assert payload["status"] == "CRIT" and len(payload["backups"]) == 3
    assert payload["backups"][-1]["verified"] == "incomplete"
    assert payload["metrics"]["rpo_h"] == 24


def test_list_without_backups_section_is_bad_input(tmp_path: Path) -> None:
    (tmp_path / "parameters").mkdir()
    (tmp_path / "parameters" / "t.yaml").write_text("name: t\n")
    from sreworkbook.exceptions import ParameterError

    with pytest.raises(ParameterError):
        run(["backups", "list", "--env", "t"], tmp_path)


@pytest.mark.integration
def test_verify_an_s3_url_streams_it(s3_server: S3Server, s3_env: None, tmp_path: Path) -> None:
    client = s3_server.client()
    client.create_bucket(Bucket="bk-cli")
    client.put_object(Bucket="bk-cli", Key="m/a.archive.gz", Body=interleaved().gzipped())
    _env_file(tmp_path, f"  s3:\n    bucket: bk-cli\n    endpoint_url: {s3_server.endpoint_url}\n")
    code, out = run(
        ["backups", "verify", "s3://bk-cli/m/a.archive.gz", "--env", "t", "--json"], tmp_path
    )
    assert code == 0 and json.loads(out)["verdict"] == "ok"
    code, _ = run(["backups", "verify", "s3://bk-cli/m/none.archive.gz", "--env", "t"], tmp_path)
    assert code == 64
