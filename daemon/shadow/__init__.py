"""Shadowing: record the person (``session``), keep their frames (``frames``), turn the
recorder's plain actions into canonical ones (``convert``) and export them (``export``)."""
