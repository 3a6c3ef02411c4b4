"""ROS message types and their one JSON form.

- :class:`TypeStore`: the types (rosbags' ROS 1 set, plus std_srvs and registered definitions).
- :func:`from_json` / :func:`to_json` / :func:`default`: the one conversion.
- :func:`describe` / :func:`typedefs`: introspection.
"""

from rosweb.messages.convert import Message, default, from_json, to_json, to_jsonable
from rosweb.messages.schema import describe, typedefs
from rosweb.messages.store import Constant, Field, ServiceType, TypeStore, public_name
from rosweb.messages.wire import to_ros1

__all__ = [
    "Constant",
    "Field",
    "Message",
    "ServiceType",
    "TypeStore",
    "default",
    "describe",
    "from_json",
    "public_name",
    "to_json",
    "to_jsonable",
    "to_ros1",
    "typedefs",
]
