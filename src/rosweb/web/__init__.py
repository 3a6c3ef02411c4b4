"""The web side: the app factory, the Flask extension and the REST API.

``flask --app rosweb.web:create_app run`` serves it with Flask's own server.
"""

from rosweb.web.app import create_app
from rosweb.web.extension import RosWeb, RosWebState, get_state

__all__ = ["RosWeb", "RosWebState", "create_app", "get_state"]
