"""`chartlnn evaluate`: field-level accuracy and energy per chart, side by side.

Metrics on Charts, the systems under test (models and the rules), energy meters, FLOPs, cost
measurements, the typed report and its writer, and the run that ties them together.
"""
