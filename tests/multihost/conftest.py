"""The multi-host test needs Docker and the images, like the end-to-end tests; without Docker it fails."""
from tests.e2e.conftest import images  # noqa: F401 (the session fixture: `make images`)
