"""The channel layer: one shape for what a newcomer writes, whatever the channel, and one for what
goes back (shapes.py). Each channel is a small adapter that turns the provider's request into an
`Inbound` and the `Outbound` messages into the provider's reply:

- the web chat and Rasa's REST channel answer in the HTTP response (app/assistant/routes.py, rest.py);
- the messengers (telegram.py, whatsapp.py, viber.py) answer later, through the provider's API: their
  answers wait in an outbox (outbox.py), written in the turn's transaction, sent right after it and
  retried by the jobs runner, so nothing is lost and nothing is sent twice.

A messenger adapter is a module with NAME, `enabled(settings)`, `verify(settings, headers, body)`
(the provider's signature), `read(settings, payload) -> list[Received]`, `calls(settings, address,
message, *, language, template) -> list[Call]` and `refusal(status, body) -> str | None` (None: the
provider took the request; else a short reason, never the message text); optionally `opened(settings,
payload) -> language | None` and `welcome(settings, messages, language=...)` for a provider that lets
a bot greet a chat just opened only in the webhook's answer (Viber). flows.py runs the turn
(`converse`) and the deliveries; routes.py holds the webhooks.
"""
