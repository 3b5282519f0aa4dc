"""The SSH transport against the test sshd: host keys, reuse, reconnects, round trips."""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from slurm_faults import SlurmCluster

from torchrun_core.errors import InvalidOptionError, SchedulerUnavailableError
from torchrun_core.runner import Runner
from torchrun_core.schedulers.slurm.scheduler import SlurmScheduler
from torchrun_core.specs.app import AppDef, Role
from torchrun_core.specs.state import AppState

pytestmark = pytest.mark.slurm


def _sh(script: str) -> AppDef:
    return AppDef(
        name="t", roles=[Role(name="main", image="", entrypoint="/bin/sh", args=["-c", script])]
    )


def test_unknown_host_key_is_rejected(slurm_conn: dict[str, Any], tmp_path: Path) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    sched = SlurmScheduler("s", **{**slurm_conn, "known_hosts": str(empty)})
    with pytest.raises(SchedulerUnavailableError) as err:
        sched.list()
    text = str(err.value)
    assert "unknown host key" in text and str(slurm_conn["port"]) in text
    assert slurm_conn["user"] in text
    assert "ssh-keyscan" in (err.value.hint or "")
    key = Path(slurm_conn["identity_file"]).read_text()
    assert key.splitlines()[1] not in text


def _connect_with_key(slurm_conn: dict[str, Any], key: Path) -> BaseException:
    """The error of a first call with ``key`` as the identity file."""
    sched = SlurmScheduler("s", **{**slurm_conn, "identity_file": str(key)})
    try:
        with pytest.raises((InvalidOptionError, SchedulerUnavailableError)) as err:
            sched.list()
    finally:
        sched.close()
    assert "is the host up" not in (err.value.hint or "")  # the host is up: say what is wrong
    return err.value


def _keygen(path: Path, passphrase: str = "", key_type: str = "ed25519") -> Path:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", key_type, "-N", passphrase, "-f", str(path)], check=True
    )
    return path


def test_missing_key_file_is_named(slurm_conn: dict[str, Any], tmp_path: Path) -> None:
    err = _connect_with_key(slurm_conn, tmp_path / "id_gone")
    assert isinstance(err, InvalidOptionError) and err.exit_code == 2
    assert str(err) == (
        f"ssh {slurm_conn['user']}@{slurm_conn['host']}:{slurm_conn['port']}: "
        f"identity file {tmp_path / 'id_gone'} does not exist"
    )
    assert "identity_file" in (err.hint or "")


def test_unparseable_key_file_is_named(slurm_conn: dict[str, Any], tmp_path: Path) -> None:
    garbage = tmp_path / "id_garbage"
    garbage.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nnot base64 at all\n")
    err = _connect_with_key(slurm_conn, garbage)
    assert isinstance(err, InvalidOptionError)
    assert str(err).endswith(f"identity file {garbage} is not a private key paramiko can read")
    assert "not base64" not in str(err) + (err.hint or "")  # never the key file's contents


def test_public_key_as_identity_file_is_named(slurm_conn: dict[str, Any]) -> None:
    public = Path(slurm_conn["identity_file"] + ".pub")
    err = _connect_with_key(slurm_conn, public)
    assert isinstance(err, InvalidOptionError)
    assert str(err).endswith(f"identity file {public} is a public key, not a private one")
    assert slurm_conn["identity_file"] in (err.hint or "")


def test_passphrase_protected_key_is_named(slurm_conn: dict[str, Any], tmp_path: Path) -> None:
    key = _keygen(tmp_path / "id_locked", passphrase="s3cret passphrase")
    err = _connect_with_key(slurm_conn, key)
    assert isinstance(err, InvalidOptionError)
    assert str(err).endswith(f"identity file {key} is protected by a passphrase "
                             "(torchrun_core never asks for one)")  # fmt: skip
    assert f"ssh-add {key}" in (err.hint or "")
    assert "s3cret" not in str(err) + (err.hint or "")


def test_a_key_the_server_refuses_is_an_authentication_failure(
    slurm_conn: dict[str, Any], tmp_path: Path
) -> None:
    # A sound ECDSA key that is not in authorized_keys: paramiko's own error then
    # is the last key type it failed to load it as ("Invalid key", as Ed25519).
    err = _connect_with_key(slurm_conn, _keygen(tmp_path / "id_stranger", key_type="ecdsa"))
    assert isinstance(err, SchedulerUnavailableError) and err.exit_code == 1
    assert "authentication failed" in str(err)
    assert "authorized_keys" in (err.hint or "")


def test_status_of_20_jobs_is_one_round_trip(slurm_conn: dict[str, Any], session: str) -> None:
    sched = SlurmScheduler(session, **slurm_conn)
    try:
        ids = [sched.submit(_sh("true")) for _ in range(20)]
        before = sched.transport().commands_run
        jobs = sched.apps(ids)
        assert sched.transport().commands_run - before == 1
        assert sorted(jobs) == sorted(ids)
        assert sched.transport().connects == 1  # type: ignore[attr-defined]
    finally:
        sched.close()


def test_wait_survives_an_sshd_restart(runner: Runner, slurm_cluster: SlurmCluster) -> None:
    handle = runner.run(_sh("sleep 4; echo done"), "slurm")
    runner.wait(handle, timeout=60, state=AppState.RUNNING)

    def restart() -> None:
        time.sleep(0.5)
        slurm_cluster.restart_sshd()

    thread = threading.Thread(target=restart)
    thread.start()
    try:
        assert runner.wait(handle, timeout=90).state is AppState.SUCCEEDED
    finally:
        thread.join()
    assert list(runner.log_lines(handle)) == ["done\n"]


def test_ssh_config_and_proxy_jump(slurm_conn: dict[str, Any], tmp_path: Path) -> None:
    # The test sshd is both the jump host and the target: the second connection
    # is a direct-tcpip channel opened through the first.
    config = tmp_path / "ssh_config"
    config.write_text(
        "Host cluster\n"
        "    HostName 127.0.0.1\n"
        f"    Port {slurm_conn['port']}\n"
        f"    User {slurm_conn['user']}\n"
        f"    IdentityFile {slurm_conn['identity_file']}\n"
        f"    ProxyJump {slurm_conn['user']}@127.0.0.1:{slurm_conn['port']}\n"
    )
    sched = SlurmScheduler(
        "s", host="cluster", ssh_config=str(config), known_hosts=slurm_conn["known_hosts"]
    )
    try:
        transport: Any = sched.transport()
        assert transport.target.proxy_jump
        done = transport.run("echo $SSH_CONNECTION")
        assert done.returncode == 0
        assert len(transport._jumps) == 1  # really went through the jump host
    finally:
        sched.close()


def test_local_mode_runs_the_same_commands_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, slurm_cluster: SlurmCluster
) -> None:
    monkeypatch.setenv("SLURM_CONF", str(slurm_cluster.conf))
    sched = SlurmScheduler("local-mode")
    try:
        app_id = sched.submit(_sh("echo here"), {"job_dir": str(tmp_path / "jobs")})
        assert type(sched.transport()).__name__ == "LocalTransport"
        deadline = time.monotonic() + 60
        while not (status := sched.describe(app_id)) or not status.is_terminal:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert status.state is AppState.SUCCEEDED
        assert list(sched.log_iter(app_id, "main")) == ["here\n"]
    finally:
        sched.close()


def test_sftp_reads_from_many_threads_at_once(runner: Runner) -> None:
    # Following several replicas' logs reads over one SFTP session from several
    # threads; paramiko alone could hand one thread's reply to another and hang.
    role = Role(
        name="main", image="", entrypoint="/bin/sh", num_replicas=2,
        args=["-c", 'for i in 1 2 3 4 5 6 7 8; do echo "$SLURM_PROCID line $i"; done'],
    )  # fmt: skip
    handle = runner.run(AppDef(name="t", roles=[role]), "slurm")
    assert runner.wait(handle, timeout=60).state is AppState.SUCCEEDED
    got: dict[int, list[list[str]]] = {0: [], 1: []}

    def follow(k: int) -> None:
        for _ in range(5):
            got[k].append(list(runner.log_lines(handle, "main", k, should_tail=True)))

    threads = [threading.Thread(target=follow, args=(k,), daemon=True) for k in (0, 1, 0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "an SFTP read hung"
    for k in (0, 1):
        assert len(got[k]) == 10
        assert all(lines == [f"{k} line {i}\n" for i in range(1, 9)] for lines in got[k])
