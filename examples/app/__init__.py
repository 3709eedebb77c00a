"""The example app: a clock stream, an LLM-style stream, a chat, a greeting and an order desk."""
