"""`chartlnn.load`: a model directory ready to chart notes — encode → tag → decode → Chart.

Nothing here imports Lightning, and a liquid model on the CPU runs without torch (the numpy
runtime), so chart workers start fast and small.
"""
