#!/usr/bin/python3
"""An automation client of the Valet control API in Python, run as an end-to-end test.

Starts a real valet-controlplane (port 0, temporary conf dir, port file), then over gRPC with stubs
generated from proto/ at build time: applies apps, lists them, gets one, checks that an invalid or
stale change is refused and changes nothing, waits for data planes, watches versions and deletes.
Any failed step fails the test (non-zero exit).

Usage: control_client_test.py --stubs DIR --controlplane PATH
Needs Debian's python3-grpcio and python3-protobuf (/usr/bin/python3).
"""

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

ARGS = None  # Parsed command line, set in main().

START_TIMEOUT_S = 20
CALL_TIMEOUT_S = 10


def wait_for(cond, timeout_s):
    """Polls cond() with short growing pauses until it is true or timeout_s passes."""
    deadline = time.monotonic() + timeout_s
    pause = 0.001
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(pause)
        pause = min(pause * 2, 0.02)
    return cond()


def read_port_file(path):
    """Returns {"grpc": "127.0.0.1:P", ...}, or None while the file is not there yet."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = [line.split() for line in f.read().splitlines() if line.strip()]
    except FileNotFoundError:
        return None
    ports = {fields[0]: fields[1] for fields in lines if len(fields) == 2}
    return ports if "grpc" in ports else None


class ControlClientTest(unittest.TestCase):
    """One control plane per test, driven only through the generated stubs."""

    def setUp(self):
        import grpc  # pylint: disable=import-outside-toplevel
        from valet.v1 import control_pb2_grpc  # pylint: disable=import-outside-toplevel

        self.dir = tempfile.mkdtemp(prefix="valet_py_client.")
        self.conf_dir = os.path.join(self.dir, "conf")
        os.mkdir(self.conf_dir)
        port_file = os.path.join(self.dir, "ports")
        self.log = open(os.path.join(self.dir, "controlplane.log"), "wb")
        self.proc = subprocess.Popen(
            [ARGS.controlplane, "--conf-dir", self.conf_dir, "--grpc-listen", "127.0.0.1:0",
             "--http-listen", "127.0.0.1:0", "--port-file", port_file],
            stdout=self.log, stderr=subprocess.STDOUT)
        ports = wait_for(lambda: read_port_file(port_file) or self.proc.poll() is not None,
                         START_TIMEOUT_S)
        if not isinstance(ports, dict):
            self.fail("valet-controlplane did not write its port file:\n" + self.control_plane_log())
        self.channel = grpc.insecure_channel(ports["grpc"])
        grpc.channel_ready_future(self.channel).result(timeout=START_TIMEOUT_S)
        self.stub = control_pb2_grpc.ControlServiceStub(self.channel)

    def tearDown(self):
        self.channel.close()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def control_plane_log(self):
        with open(os.path.join(self.dir, "controlplane.log"), encoding="utf-8",
                  errors="replace") as f:
            return f.read()

    @staticmethod
    def app(name, port=9050, **fields):
        from valet.v1 import config_pb2  # pylint: disable=import-outside-toplevel
        return config_pb2.AppConfig(
            name=name, description="app " + name,
            endpoints=[config_pb2.Endpoint(host="127.0.0.1", port=port)], **fields)

    def version(self):
        from valet.v1 import control_pb2  # pylint: disable=import-outside-toplevel
        return self.stub.GetVersion(control_pb2.GetVersionRequest(), timeout=CALL_TIMEOUT_S).version

    def names(self):
        from valet.v1 import control_pb2  # pylint: disable=import-outside-toplevel
        listed = self.stub.ListApps(control_pb2.ListAppsRequest(), timeout=CALL_TIMEOUT_S)
        return sorted(a.name for a in listed.apps)

    def test_apply_list_get_delete(self):
        import grpc  # pylint: disable=import-outside-toplevel
        from valet.v1 import control_pb2  # pylint: disable=import-outside-toplevel

        v0 = self.version()

        # Dry run: valid, nothing changes.
        dry = self.stub.ApplyApps(
            control_pb2.ApplyAppsRequest(apps=[self.app("orders")], dry_run=True),
            timeout=CALL_TIMEOUT_S)
        self.assertEqual(dry.version, v0)
        self.assertEqual(self.names(), [])

        # Apply two apps in one call: one new version, both files written.
        userauth = self.app("userauth", authorize=True, auth_key="thisismyauth", rate_limit=True,
                            limit_value=2)
        applied = self.stub.ApplyApps(
            control_pb2.ApplyAppsRequest(apps=[userauth, self.app("orders", 9060)]),
            timeout=CALL_TIMEOUT_S)
        self.assertEqual(applied.version, v0 + 1)
        self.assertEqual(self.names(), ["orders", "userauth"])
        self.assertTrue(os.path.exists(os.path.join(self.conf_dir, "userauth.json")))

        got = self.stub.GetApp(control_pb2.GetAppRequest(name="userauth"), timeout=CALL_TIMEOUT_S)
        # Keys are redacted in answers: the first 8 hex digits of the key's SHA-256.
        self.assertEqual(got.app.auth_key, "<redacted sha256:%s>"
                         % hashlib.sha256(b"thisismyauth").hexdigest()[:8])
        self.assertEqual(got.app.limit_value, 2)
        self.assertEqual(got.version, v0 + 1)

        # Invalid: refused with INVALID_ARGUMENT naming the field; nothing changes.
        with self.assertRaises(grpc.RpcError) as refused:
            self.stub.ApplyApps(
                control_pb2.ApplyAppsRequest(
                    apps=[self.app("fine"), self.app("nokey", authorize=True)]),
                timeout=CALL_TIMEOUT_S)
        self.assertEqual(refused.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("authKey", refused.exception.details())
        # The errors as data: a google.rpc.Status in grpc-status-details-bin holding a
        # valet.v1.ValidationErrors, readable by any gRPC client.
        from valet.v1 import errors_pb2  # pylint: disable=import-outside-toplevel
        trailers = dict(refused.exception.trailing_metadata() or ())
        status = errors_pb2.Status.FromString(trailers["grpc-status-details-bin"])
        listed = errors_pb2.ValidationErrors()
        self.assertTrue(status.details[0].Unpack(listed))
        self.assertEqual([(e.file, e.path) for e in listed.errors], [("apps[1]", "authKey")])
        self.assertEqual(self.version(), v0 + 1)
        self.assertEqual(self.names(), ["orders", "userauth"])
        self.assertFalse(os.path.exists(os.path.join(self.conf_dir, "fine.json")))

        # Stale expected version: FAILED_PRECONDITION; nothing changes.
        with self.assertRaises(grpc.RpcError) as stale:
            self.stub.ApplyApps(
                control_pb2.ApplyAppsRequest(apps=[self.app("late")], expected_version=v0),
                timeout=CALL_TIMEOUT_S)
        self.assertEqual(stale.exception.code(), grpc.StatusCode.FAILED_PRECONDITION)
        self.assertEqual(self.names(), ["orders", "userauth"])

        # No data plane attached: the wait answers at once, complete.
        waited = self.stub.WaitForVersion(
            control_pb2.WaitForVersionRequest(version=v0 + 1, timeout_ms=5000),
            timeout=CALL_TIMEOUT_S)
        self.assertTrue(waited.complete)
        self.assertEqual(list(waited.nacked), [])

        # Delete: gone from the list and from the conf dir; deleting again is NOT_FOUND.
        deleted = self.stub.DeleteApp(control_pb2.DeleteAppRequest(name="userauth"),
                                      timeout=CALL_TIMEOUT_S)
        self.assertEqual(deleted.version, v0 + 2)
        self.assertEqual(self.names(), ["orders"])
        self.assertFalse(os.path.exists(os.path.join(self.conf_dir, "userauth.json")))
        with self.assertRaises(grpc.RpcError) as missing:
            self.stub.DeleteApp(control_pb2.DeleteAppRequest(name="userauth"),
                                timeout=CALL_TIMEOUT_S)
        self.assertEqual(missing.exception.code(), grpc.StatusCode.NOT_FOUND)
        self.stub.DeleteApp(control_pb2.DeleteAppRequest(name="orders"), timeout=CALL_TIMEOUT_S)
        self.assertEqual(self.names(), [])
        self.assertEqual(self.version(), v0 + 3)

    def test_watch_reports_each_version(self):
        from valet.v1 import control_pb2  # pylint: disable=import-outside-toplevel

        v0 = self.version()
        stream = self.stub.WatchVersions(control_pb2.WatchVersionsRequest(),
                                         timeout=CALL_TIMEOUT_S)
        first = next(stream)
        self.assertEqual(first.version, v0)
        self.stub.ApplyApps(control_pb2.ApplyAppsRequest(apps=[self.app("w")]),
                            timeout=CALL_TIMEOUT_S)
        event = next(stream)
        self.assertEqual(event.version, v0 + 1)
        self.assertEqual(list(event.changed_apps), ["w"])
        stream.cancel()

    def test_listed_dataplanes_empty(self):
        from valet.v1 import control_pb2  # pylint: disable=import-outside-toplevel

        listed = self.stub.ListDataPlanes(control_pb2.ListDataPlanesRequest(),
                                          timeout=CALL_TIMEOUT_S)
        self.assertEqual(list(listed.dataplanes), [])
        self.assertEqual(listed.version, self.version())


def main():
    global ARGS  # pylint: disable=global-statement
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stubs", required=True, help="directory of the generated valet/v1 stubs")
    parser.add_argument("--controlplane", required=True, help="path of valet-controlplane")
    ARGS, rest = parser.parse_known_args()
    sys.path.insert(0, ARGS.stubs)
    result = unittest.main(argv=[sys.argv[0]] + rest, exit=False, verbosity=2).result
    return 0 if result.wasSuccessful() and result.testsRun > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
