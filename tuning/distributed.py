"""keras-tuner's chief/worker mode: roles, a bounded wait for the chief, and the chief's server.

keras-tuner reads three environment variables: `KERASTUNER_TUNER_ID`
("chief" for the process running the oracle, any other id for a worker),
`KERASTUNER_ORACLE_IP` and `KERASTUNER_ORACLE_PORT` (where the chief listens
and workers connect). `--role chief|worker --worker-id ID --chief HOST:PORT`
set them; without `--role`, variables already set are used as they are.

The chief serves keras-tuner's own `OracleServicer` (gRPC). Two things differ
from keras-tuner's `start_server`: a port already in use is an error (gRPC
would otherwise share it silently: it binds with SO_REUSEPORT), and the chief
notices the end of the search within a second instead of polling every 20 s.
Workers give up on a chief that does not answer within `--chief-wait`
seconds (keras-tuner would wait an hour per call).
"""

import dataclasses
import errno
import os
import re
import socket
import time

from apps.common.errors import UsageError

ENV_TUNER_ID = "KERASTUNER_TUNER_ID"
ENV_ORACLE_IP = "KERASTUNER_ORACLE_IP"
ENV_ORACLE_PORT = "KERASTUNER_ORACLE_PORT"
CHIEF_ID = "chief"
ROLES = ("chief", "worker")
DEFAULT_CHIEF_WAIT_SECONDS = 60.0
SERVER_POLL_SECONDS = 0.5
WORKER_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


@dataclasses.dataclass(frozen=True)
class Role:
    """What this process is in a search.

    Attributes:
        kind: "single" (one machine, no server), "chief" or "worker".
        tuner_id: keras-tuner's id of this process ("chief", or the worker's).
        host: The chief's host (the chief: the address it listens on).
        port: The chief's port.
    """

    kind: str
    tuner_id: str = None
    host: str = None
    port: int = None

    @property
    def address(self):
        return f"{self.host}:{self.port}"


def parse_address(text, flag="--chief"):
    """`"HOST:PORT"` -> (host, port).

    Raises:
        UsageError: If it is not HOST:PORT with a port from 1 to 65535.
    """
    host, _, port = str(text).rpartition(":")
    host = host.strip("[]")  # [::1]:8000
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"{flag} {text!r}: expected HOST:PORT, e.g. 10.0.0.5:8000 "
                         "(the chief: the address to listen on, e.g. 0.0.0.0:8000)")
    return host, int(port)


def resolve_role(role=None, worker_id=None, chief=None, environ=None):
    """The role the flags (or, without `--role`, the environment) give this process.

    Raises:
        UsageError: For a combination that names no valid role, saying which
            flag is missing or out of place.
    """
    environ = os.environ if environ is None else environ
    if role is None:
        if worker_id is not None or chief is not None:
            raise UsageError("--worker-id and --chief need --role worker (or --role chief, "
                             "with --chief HOST:PORT to listen on)")
        if ENV_ORACLE_IP not in environ:
            return Role("single")
        return _role_from_environment(environ)
    if chief is None:
        what = ("the address to listen on, e.g. 0.0.0.0:8000" if role == "chief"
                else "the chief's address, e.g. 10.0.0.5:8000")
        raise UsageError(f"--role {role} needs --chief HOST:PORT ({what})")
    host, port = parse_address(chief)
    if role == "chief":
        if worker_id is not None:
            raise UsageError("--worker-id is for --role worker; the chief's id is always "
                             f"{CHIEF_ID!r}")
        return Role("chief", CHIEF_ID, host, port)
    if role != "worker":
        raise UsageError(f"--role must be one of {', '.join(ROLES)}, got {role!r}")
    if worker_id is None:
        raise UsageError("--role worker needs --worker-id ID (a name unique to this worker, "
                         "e.g. 1; a restarted worker keeps its id to take its trial back)")
    return Role("worker", _check_worker_id(worker_id, "--worker-id"), host, port)


def _check_worker_id(worker_id, where):
    worker_id = str(worker_id)
    if not WORKER_ID_PATTERN.fullmatch(worker_id):
        raise UsageError(f"{where} {worker_id!r}: use letters, digits, '_', '.' or '-' "
                         "(it names files in the search folder)")
    if CHIEF_ID in worker_id:
        raise UsageError(f"{where} {worker_id!r}: a worker id must not contain {CHIEF_ID!r} "
                         "(keras-tuner would take the worker for the chief)")
    return worker_id


def _role_from_environment(environ):
    missing = [name for name in (ENV_TUNER_ID, ENV_ORACLE_PORT) if not environ.get(name)]
    if missing:
        raise UsageError(f"{ENV_ORACLE_IP} is set but {' and '.join(missing)} not: set all "
                         "three, or use --role chief|worker --chief HOST:PORT --worker-id ID")
    host, port = parse_address(f"{environ[ENV_ORACLE_IP]}:{environ[ENV_ORACLE_PORT]}",
                               flag=f"{ENV_ORACLE_IP}:{ENV_ORACLE_PORT}")
    tuner_id = environ[ENV_TUNER_ID]
    if CHIEF_ID in tuner_id:
        return Role("chief", tuner_id, host, port)
    return Role("worker", _check_worker_id(tuner_id, ENV_TUNER_ID), host, port)


def apply_role(role, environ=None):
    """Set keras-tuner's environment variables for `role` (nothing for one machine)."""
    environ = os.environ if environ is None else environ
    if role.kind == "single":
        return
    environ[ENV_TUNER_ID] = role.tuner_id
    environ[ENV_ORACLE_IP] = role.host
    environ[ENV_ORACLE_PORT] = str(role.port)


def wait_for_chief(role, seconds):
    """Wait up to `seconds` for the chief to answer; afterwards keras-tuner's calls wait as long.

    Raises:
        UsageError: If no chief answers at the address in time.
    """
    import grpc
    from keras_tuner.src.distribute import oracle_client

    # keras-tuner waits an hour per call for a chief that went away; a worker
    # should say so much sooner.
    oracle_client.TIMEOUT = seconds
    channel = grpc.insecure_channel(role.address)
    try:
        grpc.channel_ready_future(channel).result(timeout=seconds)
    except grpc.FutureTimeoutError:
        raise UsageError(
            f"no chief answered at {role.address} within {seconds:g} s: start `rnn-suite tune "
            f"<app> --role chief --chief 0.0.0.0:{role.port}` first, or check --chief (host, "
            "port, firewall); --chief-wait sets how long to wait") from None
    finally:
        channel.close()


def lost_chief_error(role, error):
    """The UsageError for a chief that stopped answering in the middle of a search."""
    detail = error.details() if hasattr(error, "details") else str(error)
    return UsageError(f"lost the chief at {role.address} ({detail}); rerun this worker with "
                      "the same --worker-id once the chief is back (it resumes its trial)")


def check_port_free(host, port):
    """Raise a UsageError unless this machine can listen on host:port."""
    probe = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    # SO_REUSEADDR lets the probe ignore connections of an earlier chief still
    # closing (TIME_WAIT), but not a process listening there now.
    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        probe.bind((host, port))
    except socket.gaierror:
        raise UsageError(f"--chief {host}:{port}: unknown host {host!r} (the chief listens on "
                         "one of its own addresses, or 0.0.0.0 for all)") from None
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise UsageError(f"--chief {host}:{port}: port {port} is already in use (another "
                             "chief, or another program); pick another port") from None
        raise UsageError(f"--chief {host}:{port}: cannot listen there ({error.strerror}); use "
                         "an address of this machine, or 0.0.0.0 for all") from None
    finally:
        probe.close()


def serve(oracle, role, deadline=None):
    """Run the chief: answer the workers with keras-tuner's oracle until the search is over.

    The search is over when the oracle has told every worker that asked for
    a trial to stop and no trial is running (keras-tuner's own rule). After
    `deadline` (a `time.time()`), no new trial is handed out.

    Raises:
        UsageError: If the port is in use or the address is not this machine's.
    """
    from concurrent import futures

    import grpc
    from keras_tuner.src import protos
    from keras_tuner.src.distribute import oracle_chief

    check_port_free(role.host, role.port)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1),
                         options=[("grpc.so_reuseport", 0)])
    servicer = oracle_chief.OracleServicer(oracle)
    protos.get_service_grpc().add_OracleServicer_to_server(servicer, server)
    try:
        server.add_insecure_port(role.address)
    except RuntimeError:
        raise UsageError(f"--chief {role.address}: cannot listen there (port in use?); pick "
                         "another port") from None
    server.start()
    print(f"chief: serving the search at {role.address}; start the workers with --role worker "
          f"--chief <this host>:{role.port} --worker-id ID", flush=True)
    try:
        while not (servicer.stop_triggered and oracle_chief.exit_chief(oracle)):
            time.sleep(SERVER_POLL_SECONDS)
            if deadline and time.time() >= deadline and len(oracle.trials):
                # The oracle answers "stopped" to new requests once it has max_trials trials.
                oracle.max_trials = len(oracle.trials)
    finally:
        server.stop(grace=2)
