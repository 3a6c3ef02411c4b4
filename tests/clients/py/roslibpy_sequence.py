#!/usr/bin/env python3
"""roslibpy (PyPI, 2.x) conformance run against a rosbridge v2 WebSocket endpoint.

    python roslibpy_sequence.py ws://127.0.0.1:8000/ws [--topic /odom] [--type nav_msgs/Odometry]
        [--service-caller self|external] [--timeout 30] [--step-timeout 10]
        [--transport twisted|asyncio]

Env equivalents: ROSBRIDGE_URL, EXPECT_TOPIC, EXPECT_TYPE, SERVICE_CALLER, CONFORMANCE_TIMEOUT_S,
STEP_TIMEOUT_S, RESET_SERVICE, ROSLIBPY_TRANSPORT (read by roslibpy itself).

stdout: one JSON object per line {"client":"roslibpy","check":NAME,"ok":bool,"ms":N,...}
Exit: 0 all passed; 1 first failing check; 2 overall timeout; 3 bad usage.

Run it as its own process (subprocess from pytest), never inside the test process:
the Twisted reactor can only be started once per process, roslibpy's reconnecting
factory retries forever in the background, and txaio binds one framework per process.
"""

import argparse
import json
import logging
import os
import sys
import threading
import time

import roslibpy
from roslibpy.core import ServiceException

CLIENT = "roslibpy"
T0 = time.monotonic()
_state = {"current": "startup", "passed": 0}
_out_lock = threading.Lock()


def emit(**obj):
    with _out_lock:
        sys.stdout.write(json.dumps({"client": CLIENT, **obj}, default=str) + "\n")
        sys.stdout.flush()


def ms_since(t):
    return int((time.monotonic() - t) * 1000)


def die(check, error, code=1):
    emit(check=check, ok=False, ms=ms_since(T0), error=str(error))
    emit(check="summary", ok=False, passed=_state["passed"], failed=1)
    # os._exit: don't wait for the reactor thread / reconnect loop.
    os._exit(code)


def check(name, fn):
    _state["current"] = name
    start = time.monotonic()
    try:
        detail = fn()
    except Exception as exc:
        die(name, f"{type(exc).__name__}: {exc}")
    _state["passed"] += 1
    rec = {"check": name, "ok": True, "ms": ms_since(start)}
    if isinstance(detail, dict):
        rec["detail"] = detail
    emit(**rec)
    return detail


def wait(event, timeout, what):
    if not event.wait(timeout):
        raise TimeoutError(f"step timeout {timeout}s waiting for {what}")


def norm_type(t):
    return str(t).replace("/msg/", "/").replace("/srv/", "/")


def connect(url, timeout, transport):
    # Ros(host, port=None, ...) passes `host` through verbatim as the WebSocket URL when
    # port is None -> full URLs with a path (ws://h:p/ws) work. With a port, the URL is
    # built by autobahn.create_url(host, port) and has NO path (always "/").
    ros = roslibpy.Ros(url, transport=transport)
    ros.run(timeout=timeout)  # starts the reactor thread (once), raises RosTimeoutError
    return ros


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url", nargs="?", default=os.environ.get("ROSBRIDGE_URL"))
    ap.add_argument("--topic", default=os.environ.get("EXPECT_TOPIC", "/odom"))
    ap.add_argument("--type", default=os.environ.get("EXPECT_TYPE", "nav_msgs/Odometry"))
    ap.add_argument(
        "--service-caller",
        choices=("self", "external"),
        default=os.environ.get("SERVICE_CALLER", "self"),
    )
    ap.add_argument("--reset-service", default=os.environ.get("RESET_SERVICE", "/reset"))
    ap.add_argument(
        "--timeout", type=float, default=float(os.environ.get("CONFORMANCE_TIMEOUT_S", 30))
    )
    ap.add_argument(
        "--step-timeout", type=float, default=float(os.environ.get("STEP_TIMEOUT_S", 10))
    )
    ap.add_argument(
        "--external-call-timeout",
        type=float,
        default=float(os.environ.get("EXTERNAL_CALL_TIMEOUT_S", 15)),
    )
    ap.add_argument(
        "--transport",
        choices=("twisted", "asyncio"),
        default=os.environ.get("ROSLIBPY_TRANSPORT") or None,
    )
    ap.add_argument(
        "--debug",
        action="store_true",
        help="roslibpy DEBUG logging to stderr (shows every sent frame)",
    )
    a = ap.parse_args()
    if not a.url or not a.url.startswith(("ws://", "wss://")):
        sys.stderr.write("usage: roslibpy_sequence.py ws://HOST:PORT/PATH\n")
        sys.exit(3)
    logging.basicConfig(
        level=logging.DEBUG if a.debug else logging.WARNING,
        stream=sys.stderr,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    step = a.step_timeout

    overall = threading.Timer(
        a.timeout, lambda: die(_state["current"], f"overall timeout {a.timeout}s exceeded", 2)
    )
    overall.daemon = True
    overall.start()

    token = f"roslibpy-{os.getpid()}-{int(time.time() * 1000)}"
    emit(
        check="config",
        ok=True,
        url=a.url,
        expect_topic=a.topic,
        expect_type=a.type,
        service_caller=a.service_caller,
        transport=a.transport or "twisted(default)",
        roslibpy_version=roslibpy.__version__,
    )

    holder = {}

    def _connect():
        holder["ros"] = connect(a.url, step, a.transport)
        return {"is_connected": bool(holder["ros"].is_connected)}

    check("connect", _connect)
    ros = holder["ros"]

    def _get_topics():
        # Non-blocking form gets the whole values dict {topics, types}; the blocking form
        # (callback=None) returns only result["topics"]. Service: "/rosapi/topics", args {}.
        got, ev = {}, threading.Event()
        ros.get_topics(
            lambda v: (got.update(v=dict(v)), ev.set()), lambda e: (got.update(e=e), ev.set())
        )
        wait(ev, step, "rosapi/topics reply")
        if "e" in got:
            raise RuntimeError("get_topics failed: {!r}".format(got["e"]))
        topics, types = got["v"].get("topics"), got["v"].get("types")
        if a.topic not in (topics or []):
            raise AssertionError(f"{a.topic} not in topics {topics!r}")
        typ = types[topics.index(a.topic)] if types else None
        if norm_type(typ) != norm_type(a.type):
            raise AssertionError(f"{a.topic} has type {typ!r}, expected {a.type}")
        # blocking form as well (same frame, returns list)
        blocking = ros.get_topics()
        if a.topic not in blocking:
            raise AssertionError(f"blocking get_topics() lacks {a.topic}")
        return {"topics": len(topics), "type": typ}

    check("get_topics", _get_topics)

    odom = roslibpy.Topic(ros, a.topic, a.type)
    odom_msgs, odom_ev = [], threading.Event()

    def _on_odom(m):  # runs on the reactor thread
        odom_msgs.append(m)
        if len(odom_msgs) >= 3:
            odom_ev.set()

    def _subscribe():
        odom.subscribe(_on_odom)
        wait(odom_ev, step, f"3 messages on {a.topic}")
        m = odom_msgs[0]
        if not isinstance(m, dict):
            raise AssertionError(f"message not a dict: {m!r}")
        if norm_type(a.type) == "nav_msgs/Odometry" and "pose" not in m:
            raise AssertionError(f"Odometry without pose: {m!r}")
        return {"received": len(odom_msgs), "keys": sorted(m)}

    check("subscribe_receive_3", _subscribe)

    # Separate Topic objects for subscriber and publisher: roslibpy 2.1.0 registers the same
    # bound method Topic._reconnect_topic on "close" for subscribe() and advertise(); the
    # dict-based emitter keeps it once, so unsubscribe() then unadvertise() on ONE Topic
    # object raises KeyError in ros.off().
    chatter_sub = roslibpy.Topic(ros, "/roslibpy_chatter", "std_msgs/String")
    chatter_pub = roslibpy.Topic(ros, "/roslibpy_chatter", "std_msgs/String")

    def _loopback():
        want = "hello from " + token
        ev = threading.Event()
        chatter_sub.subscribe(lambda m: ev.set() if m.get("data") == want else None)
        chatter_pub.advertise()
        deadline = time.monotonic() + step
        while not ev.is_set():
            if time.monotonic() > deadline:
                raise TimeoutError("published message never came back")
            chatter_pub.publish(roslibpy.Message({"data": want}))
            ev.wait(0.25)
        return {"data": want}

    check("publish_loopback", _loopback)

    def _trigger():
        # blocking call: raises ServiceException(values) on result:false,
        # RosTimeoutError on no reply
        res = roslibpy.Service(ros, a.reset_service, "std_srvs/Trigger").call(
            roslibpy.ServiceRequest(), timeout=step
        )
        if res.get("success") is not True:
            raise AssertionError(f"{a.reset_service} returned {dict(res)!r}")
        return dict(res)

    check("call_service_trigger", _trigger)

    def _failure():
        # roslibpy: result:false -> errback(message["values"]) -> ServiceException(values).
        # If the frame has no "values" key roslibpy hits KeyError inside its message handler
        # (logged, swallowed) and the blocking call only ends by RosTimeoutError.
        try:
            roslibpy.Service(ros, "/roslibpy/does_not_exist", "std_srvs/Trigger").call(
                roslibpy.ServiceRequest(), timeout=step
            )
        except ServiceException as exc:
            return {"failed_with": exc.args[0]}
        raise AssertionError("call to a nonexistent service succeeded")

    check("call_service_failure", _failure)

    def _params():
        p = roslibpy.Param(ros, "/roslibpy/answer")
        p.set(42, timeout=step)  # "/rosapi/set_param" {name, value: json.dumps(42) == "42"}
        v = p.get(timeout=step)  # "/rosapi/get_param" {name} -> json.loads(values["value"])
        if v != 42:
            raise AssertionError(f"got {v!r} expected 42")
        return {"value": v}

    check("param_set_get", _params)

    echo_name = "/roslibpy/echo"
    echo = roslibpy.Service(ros, echo_name, "std_srvs/SetBool")
    echo_calls, echo_ev = [], threading.Event()

    def _echo_handler(request, response):  # runs on the reactor thread
        echo_calls.append(dict(request))
        response["success"] = bool(request.get("data"))
        response["message"] = "echo:%s" % ("true" if request.get("data") else "false")
        echo_ev.set()
        return True  # becomes "result" in the service_response frame

    def _advertise():
        echo.advertise(_echo_handler)  # {"op":"advertise_service","type":..,"service":..} (no id)
        time.sleep(0.2)  # no ack in the protocol
        return {"service": echo_name, "type": "std_srvs/SetBool", "caller": a.service_caller}

    check("advertise_service", _advertise)

    if a.service_caller == "self":

        def _roundtrip():
            ros2 = connect(a.url, step, a.transport)  # second connection, same reactor
            try:
                res = roslibpy.Service(ros2, echo_name, "std_srvs/SetBool").call(
                    roslibpy.ServiceRequest({"data": True}), timeout=step
                )
            finally:
                ros2.close()
            if res.get("success") is not True or res.get("message") != "echo:true":
                raise AssertionError(f"bad reply {dict(res)!r}")
            if len(echo_calls) != 1:
                raise AssertionError(f"handler called {len(echo_calls)} times")
            return dict(res)

        check("advertised_service_roundtrip", _roundtrip)
    else:
        emit(
            check="advertised_service_ready",
            ok=True,
            signal=True,
            service=echo_name,
            type="std_srvs/SetBool",
        )

        def _called():
            wait(echo_ev, a.external_call_timeout, f"an external call of {echo_name}")
            time.sleep(0.2)
            return {"request": echo_calls[0]}

        check("advertised_service_called", _called)

    def _unsubscribe():
        # {"op":"unsubscribe","id":<subscribe id>,"topic":..}; also ros.off(topic) (ALL listeners)
        odom.unsubscribe()
        time.sleep(0.5)
        after = []
        raw = after.append
        ros.on(a.topic, raw)  # raw emitter sees any publish frame still arriving
        time.sleep(1.0)
        ros.off(a.topic, raw)
        if after:
            raise AssertionError(f"{len(after)} messages after unsubscribe")
        chatter_sub.unsubscribe()
        chatter_pub.unadvertise()
        echo.unadvertise()
        return {"messages_after": 0}

    check("unsubscribe", _unsubscribe)

    def _close():
        closed = threading.Event()
        ros.on("close", lambda *_: closed.set())
        ros.close()  # schedules a WebSocket close; manual close disables auto-reconnect
        wait(closed, step, "connection close")
        return {"is_connected": bool(ros.is_connected)}

    check("close", _close)

    overall.cancel()
    emit(check="summary", ok=True, passed=_state["passed"], failed=0, total_ms=ms_since(T0))
    sys.stdout.flush()
    os._exit(0)  # don't bother stopping the reactor / joining its thread


if __name__ == "__main__":
    main()
