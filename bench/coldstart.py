#!/usr/bin/env python3
"""Cold starts of the Warden functions, measured the way Lambda reports them.

For each function this script plays the Lambda Runtime API (the HTTP interface a `provided.al2023`
runtime polls: GET .../invocation/next, POST .../invocation/<id>/response), starts the function's
release binary against it with the settings `warden-local bootstrap` printed, and measures:

  init     spawn → the runtime's first GET /next: Lambda's "Init Duration" (process start, settings,
           clients, and whatever main.rs reads before serving, e.g. the consumer directory)
  invoke   first event handed over → its response posted (calls go to the local emulator)
  peak     VmHWM of the process after the first invocation (Lambda's "Max Memory Used")
  size     the binary's size (and bootstrap.zip's when `make lambdas` has built it)

usage: coldstart.py BIN_DIR EVENTS_DIR [RUNS]
The environment must hold the function settings (AWS_ENDPOINT_URL etc.). Prints a Markdown table.
"""

import http.server
import json
import os
import queue
import socket
import statistics
import subprocess
import sys
import threading
import time

FUNCTIONS = [
    # (function, event file in EVENTS_DIR, what the event is)
    ("access-validator", "validator.json", "API Gateway request for credentials"),
    ("access-logger", "sqs-100.json", "SQS batch of 100 CloudTrail events"),
    ("access-request", "request.json", "API Gateway access request"),
    ("approval-processor", "approval.json", "approver decision (rejects an unknown token)"),
    ("policy-reconciler", "scheduled.json", "scheduled reconcile of 20 grants"),
    ("governance-check", "scheduled.json", "daily check of 20 accounts"),
    ("expiration-enforcer", "scheduled.json", "hourly expiry run"),
    ("cost-reporter", "scheduled.json", "monthly report for 20 accounts"),
]


class RuntimeApi(http.server.BaseHTTPRequestHandler):
    """One function's Runtime API: hands out one event, records when things happen."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet
        pass

    def do_GET(self):
        st = self.server.state
        if self.path.endswith("/invocation/next"):
            st["next_at"].put(time.perf_counter())
            if st["served"]:
                # Park the second poll until the process is killed, as Lambda freezes it.
                st["done"].wait(30)
                return
            st["served"] = True
            body = st["event"]
            st["sent_at"] = time.perf_counter()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Lambda-Runtime-Aws-Request-Id", "bench-0001")
            self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 300_000))
            self.send_header(
                "Lambda-Runtime-Invoked-Function-Arn",
                f"arn:aws:lambda:us-east-1:111111111111:function:{st['name']}",
            )
            self.send_header("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
            self.end_headers()
            self.wfile.write(body)
        else:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

    def do_POST(self):
        st = self.server.state
        length = int(self.headers.get("Content-Length") or 0)
        payload = self.rfile.read(length)
        st["responded"].put((time.perf_counter(), self.path, payload))
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True


def peak_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def measure(binary, name, event):
    state = {
        "name": name,
        "event": event,
        "served": False,
        "next_at": queue.Queue(),
        "responded": queue.Queue(),
        "done": threading.Event(),
    }
    srv = Server(("127.0.0.1", 0), RuntimeApi)
    srv.state = state
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    env = dict(os.environ)
    env.pop("WARDEN_RUN_ONCE", None)
    env.pop("WARDEN_EVENT_FILE", None)
    env.update(
        {
            "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{srv.server_address[1]}",
            "AWS_LAMBDA_FUNCTION_NAME": name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
            "RUST_LOG": "warn",
        }
    )
    t0 = time.perf_counter()
    proc = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        try:
            ready = state["next_at"].get(timeout=60)
        except queue.Empty:
            raise RuntimeError(f"{name}: never polled for an event; stderr: {proc.stderr.read1(4000)!r}")
        try:
            done, path, payload = state["responded"].get(timeout=120)
        except queue.Empty:
            raise RuntimeError(f"{name}: no response to the event")
        # Let the runtime reach its next poll, so the high-water mark covers the whole invocation.
        state["next_at"].get(timeout=10)
        peak = peak_rss_kib(proc.pid)
    finally:
        state["done"].set()
        proc.kill()
        proc.wait()
        srv.shutdown()
        srv.server_close()
    if not path.endswith("/response"):
        raise RuntimeError(f"{name}: the invocation failed ({path}): {payload[:300]!r}")
    return {
        "init_ms": (ready - t0) * 1000,
        "invoke_ms": (done - state["sent_at"]) * 1000,
        "peak_mib": peak / 1024,
        "response": payload,
    }


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    bin_dir, events_dir = sys.argv[1], sys.argv[2]
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    target = os.path.dirname(os.path.dirname(os.path.abspath(os.path.join(bin_dir, "x"))))
    rows, failures = [], 0
    for name, event_file, what in FUNCTIONS:
        binary = os.path.join(bin_dir, name)
        event = open(os.path.join(events_dir, event_file), "rb").read()
        samples = []
        try:
            for _ in range(runs):
                if name == "access-logger" and os.environ.get("SECURITY_INBOX_URL"):
                    # Empty the queue subscribed to the alert topic: moto's SNS→SQS delivery slows
                    # as that queue fills (100 messages: ~0.2 s into an empty queue, ~0.9 s after
                    # 500), which would be measured as the function getting slower run by run.
                    subprocess.run(
                        [os.path.join(bin_dir, "warden-local"), os.environ["AWS_ENDPOINT_URL"],
                         "inbox", os.environ["SECURITY_INBOX_URL"]],
                        stdout=subprocess.DEVNULL, check=True,
                    )
                samples.append(measure(binary, name, event))
        except RuntimeError as e:
            print(f"FAIL {e}", file=sys.stderr)
            failures += 1
            continue
        zip_path = os.path.join(target, "lambda", name, "bootstrap.zip")
        size = os.path.getsize(binary) / 2**20
        zsize = f"{os.path.getsize(zip_path) / 2**20:.1f} MiB" if os.path.exists(zip_path) else "not built"
        init = statistics.median(s["init_ms"] for s in samples)
        invoke = statistics.median(s["invoke_ms"] for s in samples)
        peak = max(s["peak_mib"] for s in samples)
        extra = ""
        if name == "access-logger":
            extra = f"; {100 / (invoke / 1000):,.0f} records/s"
        rows.append((name, size, zsize, init, invoke, peak, what + extra))
        inits = ", ".join(f"{s_['init_ms']:.1f}" for s_ in samples)
        invokes = ", ".join(f"{s_['invoke_ms']:.0f}" for s_ in samples)
        print(
            f"{name}: init {init:.1f} ms (runs: {inits}), first invoke {invoke:.1f} ms "
            f"(runs: {invokes}), peak {peak:.1f} MiB; response {samples[0]['response'][:100]!r}",
            file=sys.stderr,
        )
    print(f"| function | binary (x86_64) | bootstrap.zip (arm64) | init (median of {runs}) | first invocation | peak RSS | event |")
    print("|---|---|---|---|---|---|---|")
    for name, size, zsize, init, invoke, peak, what in rows:
        print(f"| {name} | {size:.1f} MiB | {zsize} | {init:.1f} ms | {invoke:.1f} ms | {peak:.1f} MiB | {what} |")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
