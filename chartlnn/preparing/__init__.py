"""`chartlnn prepare`: notes → labeled, split, tokenized dataset directory with a data card.

Silver labelers (sections from headers, entities from patterns with negation), the gold/silver
merge, header dropout, the stable split, the dataset directory format, the run and its card.
"""
