"""Rendering results for people: Rich tables on the console (and, later, Markdown/HTML reports)."""
