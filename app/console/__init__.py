"""The operators' web console at ``/admin/`` (HTTPS only, admin credentials): server-rendered Jinja2 pages."""
