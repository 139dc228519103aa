"""Conference aliases at the SIP registrar: one owner (lease), reconciliation, persisted status, admin view."""
