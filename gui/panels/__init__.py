"""Panels: one plot or readout each. A panel draws what it is given and never calls another panel."""
