"""The pipeline's whole topology on local emulators: ``python -m emulator up``."""
