"""SIP credentials: per-realm username/password the SIP client answers digest challenges with."""
