"""Every type both backends know reads the same on ros1 as on sim, down to the wire bytes."""

from __future__ import annotations

import io
import random
import subprocess
import sys

import pytest

from reference import random_message, ros1_serialize
from rosweb.errors import UnknownTypeError
from rosweb.graph.ros1.convert import message_class, to_native, to_rospy
from rosweb.graph.ros1.node import import_rospy
from rosweb.messages import TypeStore, to_ros1

STORE = TypeStore()


def installed_types() -> list[str]:
    import_rospy()
    names = []
    for name in STORE.message_types():
        try:
            message_class(name)
        except UnknownTypeError:
            continue
        names.append(name)
    return names


INSTALLED = installed_types()


def test_the_debian_packages_cover_the_common_types() -> None:
    common = ["geometry_msgs/Twist", "nav_msgs/Odometry", "sensor_msgs/Image"]
    common += ["sensor_msgs/LaserScan", "std_msgs/String", "std_srvs/SetBoolRequest"]
    assert set(common) <= set(INSTALLED)
    assert len(INSTALLED) > 100


@pytest.mark.parametrize("type_name", INSTALLED)
def test_same_message_same_bytes_same_json(type_name: str) -> None:
    cls = message_class(type_name)
    assert cls._md5sum == STORE.md5sum(type_name)
    for sample in range(2):
        native = random_message(STORE, type_name, random.Random(f"{type_name}/{sample}"))
        buffer = io.BytesIO()
        to_rospy(STORE, type_name, native).serialize(buffer)
        wire = buffer.getvalue()
        assert wire == ros1_serialize(STORE, type_name, native)  # rospy's bytes = the reference's
        assert wire == to_ros1(STORE, type_name, native)  # = rosweb's own (cbor-raw)
        received = cls()
        received.deserialize(wire)
        assert to_native(STORE, type_name, received) == native  # and back to the same dict


def test_rospy_comes_without_numpy_and_still_takes_numpy_floats() -> None:
    """ros1:// idle RSS: rospy's genpy is imported without numpy (11 MB); messages still
    serialize, numpy scalars included once something loads numpy."""
    code = (
        "import io, sys\n"
        "from rosweb.graph.ros1.node import import_rospy\n"
        "import_rospy()\n"
        "from std_msgs.msg import Float32, Float64\n"
        "print('numpy' in sys.modules)\n"
        "import numpy as np\n"
        "for m in (Float64(data=np.float64(1.5)), Float32(data=np.float32(2.5))):\n"
        "    buf = io.BytesIO(); m.serialize(buf); n = type(m)(); n.deserialize(buf.getvalue())\n"
        "    print(n.data)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    ).stdout.split()
    assert out == ["False", "1.5", "2.5"]
