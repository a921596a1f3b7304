"""Doctests of optional backends are collected only where their package is installed."""

import importlib.util

collect_ignore = [] if importlib.util.find_spec("face_alignment") else ["vrn_studio/face/fan.py"]
