"""One hook per service: HTTP, paging, retries and error mapping; the payload parsers are ``streamflow.parsers``."""

import streamflow.parsers  # noqa: F401  (installs the third-party log filters before dataretrieval loads)
