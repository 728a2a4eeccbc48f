"""The newcomer's own view of their case: the public "follow my case" page."""
