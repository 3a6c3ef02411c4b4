"""A properties panel: Python settings of your own as sliders, a switch and a drop-down, bound by
``rw.property``, with a live value and a plot (rosweb example 2).

An obstacle watch: every laser scan, the nearest range (all around, or ahead only) is published
as ``/panel/nearest``, and ``/panel/alarm`` is true while it is closer than the threshold.

    make example-panel               # or: flask --app examples/panel/app.py run
"""

import math
import threading

from flask import Flask, render_template

from rosweb.web import RosWeb

app = Flask(__name__)
rw = RosWeb(app)


class Settings:
    threshold = 0.5  # m
    enabled = True
    mode = "all"  # or "ahead"
    alarms = 0


settings = Settings()
lock = threading.Lock()

rw.property("/panel/threshold", lambda: settings.threshold,
            lambda value: setattr(settings, "threshold", value),
            type=float, min=0.1, max=3.0, step=0.05, unit="m",
            description="alarm when an obstacle is closer than this")
rw.property("/panel/enabled", lambda: settings.enabled,
            lambda value: setattr(settings, "enabled", value), type=bool,
            description="raise the alarm")


@rw.property("/panel/mode", type=str, choices=["all", "ahead"], description="which rays count")
def mode():
    return settings.mode


@mode.setter
def mode(value):
    settings.mode = value


rw.property("/panel/alarms", lambda: settings.alarms, type=int,  # read-only: no setter
            description="alarms raised since the start")


@rw.subscriber("/scan", throttle_rate=100)
def on_scan(scan):
    """Runs on a thread of its own for each scan (10 Hz here), never the middleware's."""
    ranges = scan["ranges"]
    if settings.mode == "ahead":  # the rays within 30 degrees of straight ahead
        ranges = [r for i, r in enumerate(ranges)
                  if abs(scan["angle_min"] + i * scan["angle_increment"]) < math.radians(30)]
    nearest = min((r for r in ranges if math.isfinite(r)), default=math.inf)
    alarm = settings.enabled and nearest < settings.threshold
    with lock:
        settings.alarms += int(alarm)
    rw.robot.publish("/panel/nearest", {"data": min(nearest, 100.0)}, "std_msgs/Float32")
    rw.robot.publish("/panel/alarm", {"data": alarm}, "std_msgs/Bool")


@app.get("/")
def index():
    return render_template("index.html")
