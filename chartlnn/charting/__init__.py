"""`chartlnn chart`: the batch job — worker, shard store and manifest, local and Ray engines, run.

Dependencies point one way: the engines use the worker (:mod:`.worker`); the run
(:mod:`.run`) uses the engines, the store and the progress display; nothing imports the run.
"""
