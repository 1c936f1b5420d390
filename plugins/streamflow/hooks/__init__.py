"""One hook per service: HTTP, paging, retries and error mapping; the payload parsers are ``streamflow.parsers``."""
