"""The shared case tracker: cases, workflow, referrals, consent, history, access."""
