"""One hook per service; each turns its service's spelling into our canonical shapes."""
