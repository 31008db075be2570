"""`chartlnn train` and `chartlnn pretrain`: the only room that imports Lightning.

The LightningModules wrap the plain ``nn.Module``s of :mod:`chartlnn.models`; the DataModule
batches a prepared dataset; ``train``/``pretrain`` fit them and write a model directory.
"""
