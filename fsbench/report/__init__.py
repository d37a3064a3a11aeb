"""Figures and reports made from a results file."""
