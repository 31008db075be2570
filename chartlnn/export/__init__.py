"""Charts out to other formats: FHIR R4 bundles and a self-contained HTML page."""
