"""The version of rosweb (a module of its own: the robot side names it without importing the
package root, which offers the client)."""

__version__ = "0.1.0"
