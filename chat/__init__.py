"""The live chat: queue and routing, consumers, the browser client, and the Python client."""
