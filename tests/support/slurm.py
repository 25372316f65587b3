"""A real single-node Slurm for tests: munge + slurmctld + slurmd on this machine, no systemd.

`.ci/run` installs Debian's ``slurmctld slurmd slurm-client munge`` before ``make test``; the
``slurm`` fixture (tests/conftest.py) starts the daemons once per session with a cgroup-free,
accounting-free configuration in a temporary folder, points ``SLURM_CONF`` at it, and stops
everything at the end. Where Slurm cannot be started (packages missing, not root) the tests that
need it are skipped with the reason.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

REQUIRED = ("slurmctld", "slurmd", "sbatch", "squeue", "scancel", "sinfo", "munged", "munge", "unmunge")


class SlurmUnavailable(RuntimeError):
    """Slurm cannot be started here (the message says why)."""


@dataclass
class SlurmCluster:
    """A running single-node Slurm: its config file, partition and state folder."""

    conf: Path
    partition: str
    state_dir: Path
    node: str
    cpus: int

    def env(self) -> dict[str, str]:
        return {**os.environ, "SLURM_CONF": str(self.conf)}

    def run(self, *cmd: str, check: bool = True) -> str:
        return subprocess.run(list(cmd), env=self.env(), capture_output=True, text=True, check=check).stdout

    def queue(self) -> list[str]:
        """Job ids in the queue (any state)."""
        return self.run("squeue", "-h", "-o", "%i").split()


def _which(name: str) -> str | None:
    return shutil.which(name) or next((p for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}") if os.path.exists(p)), None)


def _wait(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise SlurmUnavailable(f"timed out after {timeout:.0f} s waiting for {what}")


def _start_munge() -> None:
    ok = subprocess.run("munge -n | unmunge", shell=True, capture_output=True, text=True)
    if ok.returncode == 0 and "Success" in ok.stdout:
        return  # already running
    run_dir = Path("/run/munge")
    run_dir.mkdir(parents=True, exist_ok=True)
    shutil.chown(run_dir, "munge", "munge")
    if not Path("/etc/munge/munge.key").exists():
        subprocess.run(["mungekey", "--create"], check=True, capture_output=True)
        shutil.chown("/etc/munge/munge.key", "munge", "munge")
    subprocess.run(["runuser", "-u", "munge", "--", _which("munged")], check=True, capture_output=True)
    _wait(lambda: "Success" in subprocess.run("munge -n | unmunge", shell=True, capture_output=True, text=True).stdout,
          10, "munge")


def start_slurm(workdir: Path, partition: str = "debug") -> tuple[SlurmCluster, list[Path]]:
    """Start munge, slurmctld and slurmd; return the cluster and the daemons' pid files."""
    missing = [c for c in REQUIRED if _which(c) is None]
    if missing:
        raise SlurmUnavailable(f"Slurm/munge commands not installed: {', '.join(missing)} "
                               "(apt-get install slurmctld slurmd slurm-client munge)")
    if os.geteuid() != 0:
        raise SlurmUnavailable("starting slurmd needs root")
    _start_munge()
    node = socket.gethostname().split(".")[0]
    probe = subprocess.run([_which("slurmd"), "-C"], capture_output=True, text=True, check=True).stdout
    fields = dict(kv.split("=", 1) for kv in probe.split() if "=" in kv)
    cpus = int(fields.get("CPUs", "1"))
    memory = max(1024, int(int(fields.get("RealMemory", "2048")) * 0.8))
    state = workdir / "state"
    spool = workdir / "spool"
    logs = workdir / "log"
    for d in (state, spool, logs):
        d.mkdir(parents=True, exist_ok=True)
    conf = workdir / "slurm.conf"
    conf.write_text(f"""# landpulse test cluster (written by tests/slurm.py)
ClusterName=landpulse-test
SlurmctldHost={node}(127.0.0.1)
SlurmctldPort=16817
SlurmdPort=16818
AuthType=auth/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation={state}
SlurmdSpoolDir={spool}
SlurmctldPidFile={workdir}/slurmctld.pid
SlurmdPidFile={workdir}/slurmd.pid
SlurmctldLogFile={logs}/slurmctld.log
SlurmdLogFile={logs}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmdParameters=config_overrides
ReturnToService=2
SchedulerType=sched/backfill
KillWait=5
MinJobAge=5
InactiveLimit=0
NodeName={node} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory} State=UNKNOWN
PartitionName={partition} Nodes={node} Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
""")
    env = {**os.environ, "SLURM_CONF": str(conf)}
    subprocess.run([_which("slurmctld"), "-f", str(conf)], env=env, check=True, capture_output=True)
    subprocess.run([_which("slurmd"), "-f", str(conf)], env=env, check=True, capture_output=True)
    cluster = SlurmCluster(conf, partition, state, node, cpus)

    def idle() -> bool:
        out = subprocess.run(["sinfo", "-h", "-o", "%T"], env=env, capture_output=True, text=True).stdout
        return "idle" in out

    try:
        _wait(idle, 30, "the Slurm node to become idle")
    except SlurmUnavailable:
        stop_slurm([workdir / "slurmd.pid", workdir / "slurmctld.pid"], cluster)
        raise
    return cluster, [workdir / "slurmd.pid", workdir / "slurmctld.pid"]


def stop_slurm(pid_files: list[Path], cluster: SlurmCluster | None = None) -> None:
    """Cancel every job, then stop the daemons by the pids in their pid files."""
    if cluster is not None:
        subprocess.run(["scancel", "--full", "-u", "root"], env=cluster.env(), capture_output=True)
    for pid_file in pid_files:
        try:
            pid = int(pid_file.read_text().strip())
            os.kill(pid, signal.SIGTERM)
        except (OSError, ValueError):
            continue
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except OSError:
                break
            time.sleep(0.1)
