"""The framework-free robot core."""
