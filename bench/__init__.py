"""``make bench``: the CUCM path against a bare-uvicorn ceiling on the same TLS, and scale to 100,000 conferences."""
