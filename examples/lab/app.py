"""A lab-hardware page shared by several people: log in, see who drives, ask for the control
lease, drive; everyone else waits their turn (rosweb example 3).

    make example-lab                 # or: flask --app examples/lab/app.py run

Demo users: alice:alice and bob:bob, operators (LAB_USERS="name:password[:role],..."). In a
real lab, keep users in a config file instead (``rosweb user add NAME --config lab.toml``, then
``ROSWEB_CONFIG=lab.toml``): its password hashes are made once, not at each start.
"""

import os

from flask import Flask, render_template
from werkzeug.security import generate_password_hash

from rosweb.web import RosWeb

app = Flask(__name__)
users = [(item.split(":") + ["operator"])[:3]
         for item in os.environ.get("LAB_USERS", "alice:alice,bob:bob").split(",")]
app.config["ROSWEB_USERS"] = {
    name: {"role": role, "password": generate_password_hash(password)} for name, password, role in users
}
app.config["ROSWEB_CONTROL_TTL"] = 60.0  # the lease lasts a minute after the holder's last command
rw = RosWeb(app)


@app.get("/")
def index():
    """Needs a login (the page redirects to /login): the widgets then act as that user."""
    return render_template("index.html", me=rw.user_robot.caller)
