"""Live view: a web page that shows books, imbalance and suggestions as they stream.

A downstream consumer of the output topics (`streams dashboard`); see docs/dashboard.md.
"""
