"""Charts out to other formats: FHIR R4 bundles, a self-contained HTML page, and spaCy Docs (the
``chartlnn`` pipeline component)."""
