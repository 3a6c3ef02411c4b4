"""A teleop web app: four arrow buttons, a stop button and the camera (rosweb example 1).

    make example-teleop              # or: flask --app examples/teleop/app.py run
"""

from flask import Flask, jsonify, render_template, request

from rosweb.web import RosWeb

app = Flask(__name__)
rw = RosWeb(app)  # the simulated robot; ROSWEB_BACKEND=ros1:// drives a real one


@app.get("/")
def index() -> str:
    return render_template("index.html")


@app.post("/move/<command>")
def move(command: str):
    """forward, back, left, right or stop; a move lasts the deadman's 0.2 s unless repeated."""
    speed = float(request.args.get("speed", 0.5))
    return jsonify(rw.robot.teleop(command, speed))  # guarded: e-stop, lease, limits
