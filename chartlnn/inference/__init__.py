"""`chartlnn.load`: a model directory ready to chart notes — encode → tag → decode → Chart.

Plain torch modules only: nothing here imports Lightning, so chart workers start fast and small.
"""
