"""The serverless pipeline's core (DESIGN.md §6): ingest, the per-agent analyze step,
recommend and the HTTPS API as functions over ports.

Nothing here imports a cloud client: ``embedded.py`` holds the in-process adapters,
``gcp.py`` the Google Cloud ones (imported only by the functions and the emulator).
"""
