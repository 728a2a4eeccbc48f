"""The newcomers' landing page, the staff dashboard and the health check."""
