"""rosweb: put a robot on the web.

A Flask app and Flask extension with a robot node inside. The robot side (``messages``,
``graph``, ``hub``, ``control``) knows nothing of HTTP; the web side (``web``) gets a
:class:`~rosweb.graph.Graph` from configuration.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
