"""Tests of the nsl Python package (run with unittest discovery)."""
