"""Bot-service benchmark: per-message overhead on top of Rasa, and memory with many open widgets."""
