"""The assistant: dialogue data (dialogues/), language identification, intents and entities."""
