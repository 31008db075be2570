"""`chartlnn annotate`: pre-annotated review tasks (Label Studio or brat), least-sure notes first.

The model charts the notes; its spans become the tasks' pre-annotations, which a reviewer accepts
or corrects; the reviewed export is read back by ``prepare labelstudio`` / ``prepare brat`` as
gold. Rounds into the same folder never show a reviewer a note twice (the manifest).
"""
