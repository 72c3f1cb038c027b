"""The Debian packages end to end: build offline, lintian, install, enroll, run, upgrade, purge.

Runs only as root on Debian (CI is root on bookworm, without systemd): it installs the
packages on the machine for real and runs the installed node by hand under the
glasscast user, against a control plane started from the repository.
"""

from __future__ import annotations

import fcntl
import grp
import hashlib
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from shared.ports import free_port

REPO = Path(__file__).resolve().parents[2]
BUILD_DEBS = Path("packaging") / "build-debs"
CHANGELOG = Path("packaging") / "debian" / "changelog"
PACKAGES = ("glasscast-edge", "glasscast-control-plane", "glasscast-common")
STATE = Path("/var/lib/glasscast")
CONFFILE = Path("/etc/glasscast/edge.toml")
LEFTOVERS = (
    STATE,
    Path("/var/cache/glasscast"),
    Path("/etc/glasscast"),
    Path("/opt/venvs/glasscast"),
)
IDENTITY = ("node.key", "node.crt", "ca.crt", "enrollment.json")
# The test installs and purges system packages: two runs on one machine would clobber
# each other, so a run holds this lock from the build to the last purge.
MACHINE_LOCK = Path("/run/lock/glasscast-packaging-test.lock")


def _can_install() -> bool:
    return (
        os.geteuid() == 0
        and Path("/etc/debian_version").exists()
        and shutil.which("dpkg") is not None
        and shutil.which("apt-get") is not None
    )


pytestmark = [
    pytest.mark.packaging,
    pytest.mark.timeout(900),
    # A developer's unprivileged run may leave it out; CI runs as root and must run it.
    pytest.mark.skipif(
        not _can_install() and not os.environ.get("CI"),
        reason="installs .debs: needs root on Debian with dpkg",
    ),
]


# ------------------------------------------------------------------------- helpers


def run(cmd: Sequence[str | Path], **kwargs: object) -> str:
    """Run a command; on failure the assertion shows its whole output."""
    result = subprocess.run(
        [str(c) for c in cmd],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
        **kwargs,  # type: ignore[call-overload]
    )
    assert result.returncode == 0, f"{cmd} failed ({result.returncode}):\n{result.stdout}"
    return str(result.stdout)


def apt_get(*args: str | Path) -> str:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    # unsafe-io: dpkg's fsync per file dominates unpacking a 12k-file venv; fine for a test.
    options = ["-o", "Dpkg::Options::=--force-unsafe-io"]
    return run(["apt-get", "-y", "-q", *options, *args], env=env, stdin=subprocess.DEVNULL)


def installed_version(package: str) -> str | None:
    result = subprocess.run(
        ["dpkg-query", "-W", "-f=${db:Status-Status} ${Version}", package],
        capture_output=True,
        text=True,
        check=False,
    )
    status, _, version = result.stdout.partition(" ")
    return version if status == "installed" else None


def as_glasscast(cmd: list[str], env: Mapping[str, str]) -> list[str]:
    """Run as the package's user, the way an operator does with sudo -u or runuser."""
    return ["runuser", "-u", "glasscast", "--", "env", *(f"{k}={v}" for k, v in env.items()), *cmd]


def wait_for(
    what: str, check: Callable[[], object], timeout: float, proc: subprocess.Popen[str]
) -> object:
    """Poll `check()` until it returns something truthy; fail early if `proc` died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"exited ({proc.returncode}) before {what}"
        try:
            result = check()
        except (httpx.HTTPError, OSError):
            result = None
        if result:
            return result
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def stop(proc: subprocess.Popen[str]) -> str:
    """Stop a process started in its own session, the whole group, and return its output."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    out, _ = proc.communicate()
    return out or ""


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def purge_everything() -> None:
    # dpkg, not apt-get: apt refuses the whole list if one package was never installed.
    subprocess.run(["dpkg", "--purge", *PACKAGES], capture_output=True, check=False)


# ------------------------------------------------------------------------ builds


@dataclass(frozen=True)
class Debs:
    version: str
    common: Path
    edge: Path
    control_plane: Path
    lintian: str

    @classmethod
    def found_in(cls, out: Path, version: str, log: str) -> Debs:
        def one(package: str) -> Path:
            path = out / f"{package}_{version}_amd64.deb"
            assert path.is_file(), f"{path.name} was not built:\n{log}"
            return path

        return cls(
            version, one("glasscast-common"), one("glasscast-edge"),
            one("glasscast-control-plane"), log,
        )  # fmt: skip


def changelog_version(changelog: Path) -> str:
    return run(["dpkg-parsechangelog", "-l", changelog, "-S", "Version"]).strip()


def bumped(version: str) -> str:
    """0.1.0 -> 0.1.1: the next release for the upgrade test."""
    head, last = re.fullmatch(r"(.*?)(\d+)", version).groups()  # type: ignore[union-attr]
    return f"{head}{int(last) + 1}"


def copy_source(dest: Path) -> None:
    """The working tree as build-debs sees it: tracked and untracked, not ignored files."""
    listing = run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO)
    for name in filter(None, listing.split("\0")):
        source = REPO / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)


def add_changelog_entry(changelog: Path, version: str) -> None:
    entry = (
        f"glasscast ({version}) bookworm; urgency=medium\n\n"
        "  * Upgrade test release.\n\n"
        f" -- Glasscast maintainers <maintainers@glasscast.example>  "
        f"{time.strftime('%a, %d %b %Y %H:%M:%S +0000', time.gmtime())}\n\n"
    )
    changelog.write_text(entry + changelog.read_text())


@pytest.fixture(scope="module")
def machine() -> Iterator[None]:
    if not _can_install():
        pytest.fail("CI must run the packaging test: it needs root on Debian with dpkg")
    MACHINE_LOCK.parent.mkdir(parents=True, exist_ok=True)
    with MACHINE_LOCK.open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pytest.skip("another packaging test run on this machine holds the packages")
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@pytest.fixture(scope="module")
def builds(machine: None, tmp_path_factory: pytest.TempPathFactory) -> tuple[Debs, Debs]:
    """This tree's packages (with lintian) and the next version's from a temp copy,
    built side by side offline once the wheelhouse step has run."""
    if any(installed_version(p) for p in PACKAGES):
        pytest.skip("glasscast packages are installed on this machine; the test would replace them")
    run([REPO / BUILD_DEBS, "wheelhouse"], cwd=REPO)
    base = tmp_path_factory.mktemp("debs")
    current = changelog_version(REPO / CHANGELOG)
    upcoming = bumped(current)
    copy = base / "next-src"
    copy_source(copy)
    add_changelog_entry(copy / CHANGELOG, upcoming)
    # Offline from here on: nothing may reach a package index.
    offline = {**os.environ, "PIP_NO_INDEX": "1", "WHEELHOUSE": str(REPO / "wheelhouse")}
    procs = [
        subprocess.Popen(
            [copy / BUILD_DEBS],
            env={**offline, "OUT": str(base / "next"), "SKIP_LINTIAN": "1"},
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        ),
        subprocess.Popen(
            [REPO / BUILD_DEBS],
            env={**offline, "OUT": str(base / "current"), "BUILD_DIR": str(base / "build")},
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        ),
    ]  # fmt: skip
    logs = [proc.communicate()[0] for proc in procs]
    for proc, log in zip(procs, logs, strict=True):
        assert proc.returncode == 0, f"build-debs failed:\n{log}"
    # The staged trees hold a whole venv each; only the .debs are needed from here.
    shutil.rmtree(copy)
    shutil.rmtree(base / "build")
    return (
        Debs.found_in(base / "current", current, logs[1]),
        Debs.found_in(base / "next", upcoming, logs[0]),
    )


@pytest.fixture
def clean_system() -> Iterator[None]:
    purge_everything()
    try:
        yield
    finally:
        purge_everything()


# ----------------------------------------------------------------- control plane


@dataclass(frozen=True)
class ControlPlane:
    url: str
    admin_token: str

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_token}"}

    def enrollment_token(self, node_name: str) -> str:
        response = httpx.post(
            f"{self.url}/api/v1/enrollment-tokens",
            json={"node_name": node_name, "ttl_seconds": 600, "manual_approval": False},
            headers=self.headers(),
            timeout=10,
        )
        assert response.status_code == 201, response.text
        return str(response.json()["token"])

    def node_status(self, name: str) -> str | None:
        response = httpx.get(f"{self.url}/api/v1/nodes", headers=self.headers(), timeout=5)
        response.raise_for_status()
        return next((n["status"] for n in response.json() if n["name"] == name), None)


@pytest.fixture(scope="module")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    """A control plane from the repository's environment, on free loopback ports."""
    state = tmp_path_factory.mktemp("control-plane")
    http_port, grpc_port = free_port(), free_port()
    config = state / "control-plane.toml"
    config.write_text(
        f'[http]\nhost = "127.0.0.1"\nport = {http_port}\n\n'
        f'[grpc]\nhost = "127.0.0.1"\nport = {grpc_port}\n\n'
        f'[paths]\nstate_dir = "{state}"\n'
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "shared.cli", "control-plane", "--config", str(config)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        token_file = state / "admin-token"
        url = f"http://127.0.0.1:{http_port}"

        def ready() -> ControlPlane | None:
            if not token_file.exists():
                return None
            cp = ControlPlane(url, token_file.read_text().strip())
            httpx.get(f"{url}/api/v1/nodes", headers=cp.headers(), timeout=2).raise_for_status()
            return cp

        cp = wait_for("the control plane to answer", ready, 60, proc)
        assert isinstance(cp, ControlPlane)
        yield cp
    finally:
        stop(proc)


# ------------------------------------------------------------------------- tests


def install(debs: Debs) -> str:
    return apt_get("install", debs.common, debs.edge)


def enroll(cp: ControlPlane, name: str) -> None:
    token = cp.enrollment_token(name)
    cmd = ["/usr/bin/glasscast", "edge", "enroll", "--control-plane", cp.url, "--token", token]
    run(as_glasscast(cmd, {"GLASSCAST_NODE_NAME": name}), cwd="/")


def test_lintian_reports_no_errors(builds: tuple[Debs, Debs]) -> None:
    current, _ = builds
    # build-debs fails on any lintian error; its output is kept to show what was checked.
    assert "lintian" in current.lintian
    assert not re.search(r"^E: ", current.lintian, re.M), current.lintian


def test_install_enroll_run_remove_purge(
    builds: tuple[Debs, Debs], control_plane: ControlPlane, clean_system: None
) -> None:
    current, _ = builds
    output = install(current)
    assert "glasscast edge enroll --control-plane URL --token TOKEN" in output

    user = pwd.getpwnam("glasscast")
    assert user.pw_dir == str(STATE) and user.pw_shell == "/usr/sbin/nologin"
    for directory in LEFTOVERS[:2]:
        assert directory.stat().st_uid == user.pw_uid
        assert directory.stat().st_mode & 0o777 == 0o750
    assert CONFFILE.read_text().startswith("# /etc/glasscast/edge.toml")
    assert "/etc/glasscast/edge.toml" in run(
        ["dpkg-query", "-W", "-f=${Conffiles}", "glasscast-edge"]
    )
    venv = Path("/opt/venvs/glasscast")
    assert Path("/usr/bin/glasscast").resolve() == venv / "bin" / "glasscast"
    # Shebangs, activate and pyvenv.cfg name the installed path, not the build tree.
    assert (venv / "bin" / "glasscast").read_text().startswith(f"#!{venv}/bin/python\n")
    assert f'VIRTUAL_ENV="{venv}"' in (venv / "bin" / "activate").read_text().splitlines()
    assert f"command = /usr/bin/python3.11 -m venv {venv}" in (venv / "pyvenv.cfg").read_text()
    unit = Path("/lib/systemd/system/glasscast-edge.service").read_text()
    for line in (
        "User=glasscast", "ProtectSystem=strict", "NoNewPrivileges=yes", "Restart=always",
        "ReadWritePaths=/var/lib/glasscast /var/cache/glasscast",
        "AmbientCapabilities=CAP_NET_BIND_SERVICE",
        "ConditionPathExists=/var/lib/glasscast/node.crt",
    ):  # fmt: skip
        assert line in unit.splitlines()
    assert re.search(r"^LimitNOFILE=\d{6,}$", unit, re.M)
    if shutil.which("systemd-analyze"):
        run(["systemd-analyze", "verify", "/lib/systemd/system/glasscast-edge.service"])

    name = "pkg-test-edge"
    enroll(control_plane, name)
    for file in IDENTITY:
        assert (STATE / file).stat().st_uid == user.pw_uid
    assert (STATE / "node.key").stat().st_mode & 0o077 == 0

    http_port = free_port()
    env = {
        "GLASSCAST_NODE_NAME": name,
        "GLASSCAST_RTMP_HOST": "127.0.0.1",
        "GLASSCAST_RTMP_PORT": str(free_port()),
        "GLASSCAST_HTTP_HOST": "127.0.0.1",
        "GLASSCAST_HTTP_PORT": str(http_port),
    }
    node = subprocess.Popen(
        as_glasscast(["/usr/bin/glasscast", "edge"], env),
        cwd="/", stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        healthz = f"http://127.0.0.1:{http_port}/healthz"
        wait_for("/healthz", lambda: httpx.get(healthz, timeout=2).status_code == 200, 90, node)
        wait_for(
            "the control plane to list the node healthy",
            lambda: control_plane.node_status(name) == "healthy",
            90,
            node,
        )
    except AssertionError as exc:
        raise AssertionError(f"{exc}\nnode output:\n{stop(node)}") from None
    finally:
        stop(node)

    apt_get("remove", "glasscast-edge", "glasscast-common")
    assert all((STATE / file).exists() for file in IDENTITY), "remove must keep the enrollment"
    assert CONFFILE.exists() and user_exists("glasscast")
    assert not Path("/usr/bin/glasscast").exists()
    assert not Path("/opt/venvs/glasscast").exists()

    apt_get("purge", "glasscast-edge")
    assert not any((STATE / file).exists() for file in IDENTITY)
    assert not CONFFILE.exists() and user_exists("glasscast")

    apt_get("purge", "glasscast-common")
    assert [p for p in LEFTOVERS if p.exists()] == []
    assert not user_exists("glasscast")
    with pytest.raises(KeyError):
        grp.getgrnam("glasscast")


def test_upgrade_keeps_enrollment_and_changed_conffile(
    builds: tuple[Debs, Debs], control_plane: ControlPlane, clean_system: None
) -> None:
    current, upcoming = builds
    apt_get("install", current.common, current.edge, current.control_plane)
    assert installed_version("glasscast-edge") == current.version
    assert (
        Path("/etc/glasscast/control-plane.toml")
        .read_text()
        .startswith("# /etc/glasscast/control-plane.toml")
    )
    assert Path("/lib/systemd/system/glasscast-control-plane.service").is_file()
    edited = CONFFILE.read_text().replace("#max_streams = 8", "max_streams = 3", 1)
    assert "max_streams = 3" in edited
    CONFFILE.write_text(edited)
    enroll(control_plane, "pkg-upgrade-edge")
    before = {file: digest(STATE / file) for file in IDENTITY}

    apt_get("install", upcoming.common, upcoming.edge, upcoming.control_plane)

    for package in PACKAGES:
        assert installed_version(package) == upcoming.version
    assert CONFFILE.read_text() == edited
    assert {file: digest(STATE / file) for file in IDENTITY} == before
    assert (STATE / "node.crt").stat().st_uid == pwd.getpwnam("glasscast").pw_uid
    # The upgraded program reads the kept settings.
    read_back = (
        "from shared.config import EdgeConfig, load; "
        "print(load(EdgeConfig, '/etc/glasscast/edge.toml', env={}).node.max_streams)"
    )
    python = "/opt/venvs/glasscast/bin/python"
    assert run(as_glasscast([python, "-c", read_back], {}), cwd="/").strip() == "3"

    apt_get("purge", *PACKAGES)
    assert [p for p in LEFTOVERS if p.exists()] == []
    assert not user_exists("glasscast")
