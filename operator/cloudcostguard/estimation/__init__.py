"""Pure estimation: resources → cost components → totals. No I/O, no kopf, no asyncpg."""
