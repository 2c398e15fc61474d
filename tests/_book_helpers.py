"""Shared by the book's structural tests (not tests themselves)."""

HEADER = """\
---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---
"""
"""The Jupytext header a chapter starts with: what makes a ``.md`` file a notebook."""
