"""The PostgreSQL store (see store.py for its schema and transactions)."""
