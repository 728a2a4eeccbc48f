"""Signed webhooks that tell partners' own systems about changes to their cases."""
