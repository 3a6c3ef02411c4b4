"""A background worker that drives the robot through ``rosweb.Client``, as a Celery task in
another process would, against the running app (rosweb example 4).

The page queues jobs; one worker thread takes them one by one and drives over the app's REST
API: the same code runs unchanged in another process or on another machine (with a token).

    make example-worker              # or: flask --app examples/worker/app.py run
"""

import math
import queue
import threading
import time

from flask import Flask, jsonify, render_template, request

from rosweb import Client
from rosweb.web import RosWeb

app = Flask(__name__)
rw = RosWeb(app)
jobs: "queue.Queue[tuple[str, str]]" = queue.Queue(maxsize=8)  # bounded: a 9th job gets 503
status = {"state": "idle", "done": 0, "last": None}
JOBS = ("patrol", "spin")


def position(robot):
    pose = robot.latest("/odom")["pose"]["pose"]
    return pose["position"]["x"], pose["position"]["y"]


def hold(robot, command, seconds):
    """Repeat a teleop command (the deadman stops the robot 0.2 s after the last one)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        robot.teleop(command, speed=1.0)
        time.sleep(0.1)
    robot.stop()


def work():
    while True:
        job, url = jobs.get()
        status["state"] = f"running {job}"
        try:
            with Client(url) as robot:  # the app's own REST API, as any other program
                start = position(robot)
                if job == "patrol":
                    hold(robot, "forward", 1.5)
                    hold(robot, "back", 1.5)
                else:
                    hold(robot, "left", 2.0)
                x, y = position(robot)
                status["last"] = {"job": job, "moved": round(math.dist(start, (x, y)), 3)}
        except Exception as err:  # noqa: BLE001 - a failed job is reported, the worker goes on
            status["last"] = {"job": job, "error": str(err)}
        status["done"] += 1
        status["state"] = "idle" if jobs.empty() else "queued"


threading.Thread(target=work, name="worker", daemon=True).start()


@app.get("/")
def index():
    return render_template("index.html", jobs=JOBS)


@app.post("/jobs/<job>")
def add_job(job):
    if job not in JOBS:
        return jsonify(error={"code": "not_found", "message": f"no job {job!r}"}), 404
    try:
        jobs.put_nowait((job, request.host_url.rstrip("/")))
    except queue.Full:
        return jsonify(error={"code": "too_busy", "message": "8 jobs wait already"}), 503
    status["state"] = "queued"
    return jsonify(status), 202


@app.get("/jobs")
def job_status():
    return jsonify(status)
